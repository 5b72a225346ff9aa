<#
.SYNOPSIS
Run a PowerShell (or cmd) script; reports changed unless creates/removes say otherwise.
#>
<#ARGS
{"ARGS": {
  "_raw_params": {"type": "str", "help": "The script (free form)."},
  "cmd": {"type": "str", "help": "The script, as an argument instead of free form."},
  "chdir": {"type": "path", "help": "Working directory."},
  "creates": {"type": "path", "help": "Skip when this path exists."},
  "removes": {"type": "path", "help": "Skip unless this path exists."},
  "executable": {"type": "str", "help": "cmd to run the script with cmd.exe; PowerShell by default."},
  "stdin": {"type": "str", "help": "Data for the script's stdin."}
 },
 "FREE_FORM": "_raw_params",
 "REQUIRED_ONE_OF": [["_raw_params", "cmd"]]
}
#>
param($Params, $Context)

if ($Params.creates -and (Test-Path -LiteralPath $Params.creates)) {
    return @{ changed = $false; skipped = $true; msg = "skipped: $($Params.creates) exists"; rc = 0 }
}
if ($Params.removes -and -not (Test-Path -LiteralPath $Params.removes)) {
    return @{ changed = $false; skipped = $true; msg = "skipped: $($Params.removes) does not exist"; rc = 0 }
}
$script = $(if ($Params.cmd) { $Params.cmd } else { $Params._raw_params })
if ($Context.check_mode) {
    return @{ changed = $true; msg = 'script would run (check mode)'; cmd = $script; rc = 0 }
}
$info = New-Object System.Diagnostics.ProcessStartInfo
if ($Params.executable -and $Params.executable -match '^cmd(\.exe)?$') {
    $info.FileName = 'cmd.exe'
    $info.Arguments = '/c ' + $script
}
else {
    $info.FileName = 'powershell.exe'
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
    $info.Arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand $encoded"
}
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
    cmd          = $script
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
