<#
.SYNOPSIS
Ensure a file or directory exists, is absent, or is touched.
#>
<#ARGS
{
  "path": {"type": "path", "required": true, "aliases": ["dest", "name"], "help": "Path to manage."},
  "state": {"type": "str", "default": "file", "choices": ["absent", "directory", "file", "touch"], "help": "Wanted state; 'file' only checks that it exists."}
}
#>
param($Params, $Context)

$path = $Params.path
$exists = Test-Path -LiteralPath $path
$isDir = $exists -and (Get-Item -LiteralPath $path -Force).PSIsContainer
$changed = $false
$msg = ''
switch ($Params.state) {
    'absent' {
        if ($exists) {
            $changed = $true; $msg = 'removed'
            if (-not $Context.check_mode) { Remove-Item -LiteralPath $path -Recurse -Force }
        }
        else { $msg = 'already absent' }
    }
    'directory' {
        if ($exists -and -not $isDir) { throw "$path exists and is a file" }
        if (-not $exists) {
            $changed = $true; $msg = 'directory created'
            if (-not $Context.check_mode) { New-Item -Path $path -ItemType Directory -Force | Out-Null }
        }
        else { $msg = 'directory exists' }
    }
    'file' {
        if (-not $exists) { throw "$path does not exist (use state=touch to create it)" }
        if ($isDir) { throw "$path is a directory" }
        $msg = 'file exists'
    }
    'touch' {
        $changed = $true
        if (-not $Context.check_mode) {
            if ($exists) { (Get-Item -LiteralPath $path -Force).LastWriteTime = Get-Date }
            else { New-Item -Path $path -ItemType File -Force | Out-Null }
        }
        $msg = $(if ($exists) { 'timestamp updated' } else { 'file created' })
    }
}
$after = $Params.state
$before = $(if (-not $exists) { 'absent' } elseif ($isDir) { 'directory' } else { 'file' })
@{ changed = $changed; path = $path; msg = $msg; diff = @{ before = "state: $before"; after = "state: $after" } }
