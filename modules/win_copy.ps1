<#
.SYNOPSIS
Write content to a file atomically when it differs (content given inline or sent from the controller).
#>
<#ARGS
{"ARGS": {
  "dest": {"type": "path", "required": true, "help": "File to write."},
  "content": {"type": "str", "help": "Text to write (UTF-8, no BOM)."},
  "_content_b64": {"type": "str", "help": "Content sent by the controller's copy/template action (base64)."},
  "backup": {"type": "bool", "default": false, "help": "Keep a timestamped copy of the old file."},
  "force": {"type": "bool", "default": true, "help": "Replace an existing file whose content differs."}
 },
 "REQUIRED_ONE_OF": [["content", "_content_b64"]],
 "MUTUALLY_EXCLUSIVE": [["content", "_content_b64"]]
}
#>
param($Params, $Context)

$dest = $Params.dest
if ($null -ne $Params._content_b64) { $bytes = [Convert]::FromBase64String($Params._content_b64) }
else { $bytes = (New-Object System.Text.UTF8Encoding($false)).GetBytes([string]$Params.content) }

$sha = [Security.Cryptography.SHA1]::Create()
$wanted = [BitConverter]::ToString($sha.ComputeHash($bytes)).Replace('-', '').ToLower()
$exists = Test-Path -LiteralPath $dest -PathType Leaf
$current = $null
if ($exists) {
    $current = [BitConverter]::ToString($sha.ComputeHash([IO.File]::ReadAllBytes($dest))).Replace('-', '').ToLower()
}
$result = @{ changed = $false; dest = $dest; checksum = $wanted }
if ($exists -and ($current -eq $wanted -or -not $Params.force)) {
    $result.msg = $(if ($current -eq $wanted) { 'content already as wanted' } else { 'exists; force=no' })
    return $result
}
$result.changed = $true
$result.msg = $(if ($exists) { 'content replaced' } else { 'file created' })
if ($Context.diff -and $bytes.Length -lt 102400) {
    $old = ''
    if ($exists) { $old = [IO.File]::ReadAllText($dest) }
    $result.diff = @{ before = $old; after = [Text.Encoding]::UTF8.GetString($bytes); before_header = $dest; after_header = $dest }
}
if ($Context.check_mode) { return $result }

$folder = Split-Path -Parent $dest
if ($folder -and -not (Test-Path -LiteralPath $folder)) { New-Item -Path $folder -ItemType Directory -Force | Out-Null }
if ($exists -and $Params.backup) {
    $result.backup_file = '{0}.{1}.bak' -f $dest, (Get-Date -Format 'yyyyMMddHHmmss')
    Copy-Item -LiteralPath $dest -Destination $result.backup_file -Force
}
# Temp file in the same folder, then a rename: a dropped connection leaves the old file.
$tmp = Join-Path $folder ('.{0}.{1}.pyengine-tmp' -f (Split-Path -Leaf $dest), [Guid]::NewGuid().ToString('N'))
try {
    $stream = [IO.File]::Open($tmp, 'CreateNew', 'Write')
    try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) } finally { $stream.Dispose() }
    if ($exists) { [IO.File]::Replace($tmp, $dest, [NullString]::Value) }
    else { [IO.File]::Move($tmp, $dest) }
}
finally {
    if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force }
}
$result
