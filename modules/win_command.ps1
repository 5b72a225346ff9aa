<#
.SYNOPSIS
Run an executable with arguments (no shell); reports changed unless creates/removes say otherwise.
#>
<#ARGS
{"ARGS": {
  "_raw_params": {"type": "str", "help": "The command line (free form)."},
  "cmd": {"type": "str", "help": "The command line, as an argument instead of free form."},
  "argv": {"type": "list", "elements": "str", "help": "Program and arguments as a list (quoted for you)."},
  "chdir": {"type": "path", "help": "Working directory."},
  "creates": {"type": "path", "help": "Skip when this path exists."},
  "removes": {"type": "path", "help": "Skip unless this path exists."},
  "stdin": {"type": "str", "help": "Data for the command's stdin."}
 },
 "FREE_FORM": "_raw_params",
 "REQUIRED_ONE_OF": [["_raw_params", "cmd", "argv"]]
}
#>
param($Params, $Context)

function ConvertTo-ArgumentString([string[]]$Words) {
    # Quote for CommandLineToArgvW, the parser every Windows program uses.
    $quoted = foreach ($word in $Words) {
        if ($word -and $word -notmatch '[\s"]') { $word; continue }
        $escaped = [regex]::Replace($word, '(\\*)"', '$1$1\"')
        '"' + [regex]::Replace($escaped, '(\\+)$', '$1$1') + '"'
    }
    return ($quoted -join ' ')
}

if ($Params.creates -and (Test-Path -LiteralPath $Params.creates)) {
    return @{ changed = $false; skipped = $true; msg = "skipped: $($Params.creates) exists"; rc = 0 }
}
if ($Params.removes -and -not (Test-Path -LiteralPath $Params.removes)) {
    return @{ changed = $false; skipped = $true; msg = "skipped: $($Params.removes) does not exist"; rc = 0 }
}
if ($Params.argv) {
    $program = $Params.argv[0]
    $arguments = ConvertTo-ArgumentString @($Params.argv | Select-Object -Skip 1)
}
else {
    $line = $(if ($Params.cmd) { $Params.cmd } else { $Params._raw_params })
    if ($line -match '^\s*"([^"]+)"\s*(.*)$' -or $line -match '^\s*(\S+)\s*(.*)$') {
        $program = $Matches[1]; $arguments = $Matches[2]
    }
}
if ($Context.check_mode) {
    return @{ changed = $true; msg = 'command would run (check mode)'; cmd = "$program $arguments"; rc = 0 }
}
$info = New-Object System.Diagnostics.ProcessStartInfo
$info.FileName = $program
$info.Arguments = $arguments
$info.UseShellExecute = $false
$info.RedirectStandardOutput = $true
$info.RedirectStandardError = $true
$info.RedirectStandardInput = $true
if ($Params.chdir) { $info.WorkingDirectory = $Params.chdir }
$start = Get-Date
$process = [Diagnostics.Process]::Start($info)
if ($null -ne $Params.stdin) { $process.StandardInput.Write($Params.stdin) }
$process.StandardInput.Close()
$stderrTask = $process.StandardError.ReadToEndAsync()
$stdout = $process.StandardOutput.ReadToEnd()
$process.WaitForExit()
$stderr = $stderrTask.Result
$end = Get-Date
$result = @{
    changed      = $true
    cmd          = "$program $arguments"
    rc           = $process.ExitCode
    stdout       = $stdout
    stderr       = $stderr
    stdout_lines = @($stdout -split "\r?\n" | Where-Object { $_ -ne '' })
    stderr_lines = @($stderr -split "\r?\n" | Where-Object { $_ -ne '' })
    start        = $start.ToString('o')
    end          = $end.ToString('o')
    delta        = ($end - $start).ToString()
}
if ($process.ExitCode -ne 0) { $result.failed = $true; $result.msg = 'non-zero return code' }
$result
