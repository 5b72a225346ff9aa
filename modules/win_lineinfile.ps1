<#
.SYNOPSIS
Ensure a line is present in (or absent from) a text file on Windows, like lineinfile.
#>
<#ARGS
{"ARGS": {
  "path": {"type": "path", "required": true, "aliases": ["dest", "destfile", "name"], "help": "File to edit."},
  "regex": {"type": "str", "aliases": ["regexp"], "help": "Regular expression of the line to replace or remove."},
  "line": {"type": "str", "aliases": ["value"], "help": "The line to ensure."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent"], "help": "Whether the line should be there."},
  "insertafter": {"type": "str", "help": "Regex (or EOF) after whose last match a new line goes."},
  "insertbefore": {"type": "str", "help": "Regex (or BOF) before whose last match a new line goes."},
  "create": {"type": "bool", "default": false, "help": "Create the file when missing."},
  "backup": {"type": "bool", "default": false, "help": "Keep a timestamped copy of the old file."},
  "newline": {"type": "str", "default": "windows", "choices": ["windows", "unix"], "help": "Line ending to write."}
 },
 "MUTUALLY_EXCLUSIVE": [["insertafter", "insertbefore"]],
 "REQUIRED_IF": [["state", "present", ["line"]]]
}
#>
param($Params, $Context)

$path = $Params.path
$eol = $(if ($Params.newline -eq 'unix') { "`n" } else { "`r`n" })
$exists = Test-Path -LiteralPath $path -PathType Leaf
if (-not $exists -and -not $Params.create -and $Params.state -eq 'present') {
    throw "$path does not exist (create=yes to create it)"
}
$text = ''
if ($exists) { $text = [IO.File]::ReadAllText($path) }
$lines = New-Object System.Collections.ArrayList
if ($text.Length) { [void]$lines.AddRange(@($text -split "\r?\n")) }
if ($lines.Count -and $lines[$lines.Count - 1] -eq '') { $lines.RemoveAt($lines.Count - 1) }
$original = @($lines)
$msg = ''

if ($Params.state -eq 'absent') {
    $kept = New-Object System.Collections.ArrayList
    foreach ($l in $lines) {
        $match = $(if ($Params.regex) { $l -match $Params.regex } else { $l -ceq $Params.line })
        if (-not $match) { [void]$kept.Add($l) }
    }
    $removed = $lines.Count - $kept.Count
    $lines = $kept
    $msg = $(if ($removed) { "$removed line(s) removed" } else { 'line already absent' })
}
else {
    $index = -1
    if ($Params.regex) {
        for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -match $Params.regex) { $index = $i } }
    }
    if ($index -lt 0) {
        for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -ceq $Params.line) { $index = $i } }
    }
    if ($index -ge 0) {
        if ($lines[$index] -ceq $Params.line) { $msg = 'line already present' }
        else { $lines[$index] = $Params.line; $msg = 'line replaced' }
    }
    else {
        $at = $lines.Count
        if ($Params.insertbefore -eq 'BOF') { $at = 0 }
        elseif ($Params.insertbefore) {
            for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -match $Params.insertbefore) { $at = $i } }
        }
        elseif ($Params.insertafter -and $Params.insertafter -ne 'EOF') {
            for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -match $Params.insertafter) { $at = $i + 1 } }
        }
        $lines.Insert($at, $Params.line)
        $msg = 'line added'
    }
}

$newText = $(if ($lines.Count) { ($lines -join $eol) + $eol } else { '' })
# Compare lines, not bytes: a file is not rewritten only to change its line endings.
$changed = (-not $exists -and $Params.state -eq 'present') -or ((@($lines) -join "`n") -cne ($original -join "`n"))
$result = @{ changed = [bool]$changed; msg = $msg; path = $path }
if ($Context.diff) { $result.diff = @{ before = $text; after = $newText; before_header = $path; after_header = $path } }
if (-not $changed -or $Context.check_mode) { return $result }

if ($exists -and $Params.backup) {
    $result.backup_file = '{0}.{1}.bak' -f $path, (Get-Date -Format 'yyyyMMddHHmmss')
    Copy-Item -LiteralPath $path -Destination $result.backup_file -Force
}
$folder = Split-Path -Parent $path
$tmp = Join-Path $folder ('.{0}.{1}.pyengine-tmp' -f (Split-Path -Leaf $path), [Guid]::NewGuid().ToString('N'))
try {
    [IO.File]::WriteAllText($tmp, $newText, (New-Object System.Text.UTF8Encoding($false)))
    if ($exists) { [IO.File]::Replace($tmp, $path, [NullString]::Value) } else { [IO.File]::Move($tmp, $path) }
}
finally {
    if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force }
}
$result
