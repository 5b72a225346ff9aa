<#
.SYNOPSIS
Search, download and install Windows updates through the Windows Update Agent (WUA) API.

The WUA API refuses to download or install from a WinRM network logon
(E_ACCESSDENIED), so the work runs in a scheduled task as SYSTEM: the module writes
its options as JSON into a folder only SYSTEM and Administrators can read, registers
a one-shot task running the embedded worker script, waits for it (bounded by
`timeout`), reads the worker's JSON result and removes the task and the folder.
Reboots are reported (`reboot_required`), never done here: the playbook decides.
#>
<#ARGS
{
  "category_names": {"type": "list", "elements": "str", "default": ["CriticalUpdates", "SecurityUpdates", "UpdateRollups"], "help": "WUA categories to consider (spaces optional), or '*'."},
  "accept_list": {"type": "list", "elements": "str", "default": [], "help": "Only updates whose KB or title matches one of these."},
  "reject_list": {"type": "list", "elements": "str", "default": [], "help": "Never updates whose KB or title matches one of these."},
  "state": {"type": "str", "default": "installed", "choices": ["installed", "searched", "downloaded"], "help": "How far to go."},
  "server_selection": {"type": "str", "default": "default", "choices": ["default", "managed_server", "windows_update"], "help": "Update source: WSUS/configured, WSUS only, or Microsoft."},
  "timeout": {"type": "int", "default": 7200, "help": "Seconds to wait for the worker task."},
  "window": {"type": "str", "help": "Maintenance window(s) on the host's clock, e.g. 'Sat 02:00-05:00; Mon-Fri 22:00-04:00' (same syntax as patch); outside it nothing is done."}
}
#>
param($Params, $Context)

function ConvertTo-PyDays([string] $Text) {
    $names = @('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
    $text = $Text.Trim().ToLower()
    if (@('', 'daily', 'any', '*', 'everyday') -contains $text) { return 0..6 }
    $days = @()
    foreach ($part in $text.Split(',')) {
        $part = $part.Trim()
        if ($part.Contains('-')) {
            $lo = [array]::IndexOf($names, $part.Split('-')[0].Trim().Substring(0, 3))
            $hi = [array]::IndexOf($names, $part.Split('-')[1].Trim().Substring(0, 3))
            if ($lo -lt 0 -or $hi -lt 0) { throw "window: unknown day in '$part' (use Mon..Sun)" }
            $k = $lo
            while ($true) { $days += $k; if ($k -eq $hi) { break }; $k = ($k + 1) % 7 }
        }
        else {
            $k = [array]::IndexOf($names, $part.Substring(0, [Math]::Min(3, $part.Length)))
            if ($k -lt 0) { throw "window: unknown day '$part' (use Mon..Sun, Mon-Fri or daily)" }
            $days += $k
        }
    }
    return $days
}

function Test-PyWindow([string] $Spec, [datetime] $Now) {
    # Same rules as the Linux patch module: a window ending before it starts runs past
    # midnight and belongs to the day it starts on. Monday is 0.
    $minute = $Now.Hour * 60 + $Now.Minute
    $day = ([int]$Now.DayOfWeek + 6) % 7
    foreach ($chunk in ($Spec -split '[;\n]')) {
        $chunk = $chunk.Trim()
        if (-not $chunk) { continue }
        if ($chunk -notmatch '^(?:(.*?)\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$') {
            throw "window: cannot read '$chunk' (expected e.g. 'Sat 02:00-05:00')"
        }
        $days = ConvertTo-PyDays $Matches[1]
        $start = [int]$Matches[2] * 60 + [int]$Matches[3]
        $end = [int]$Matches[4] * 60 + [int]$Matches[5]
        if ($start -lt $end) {
            if ($days -contains $day -and $minute -ge $start -and $minute -lt $end) { return $true }
        }
        else {
            if ($days -contains $day -and $minute -ge $start) { return $true }
            if ($days -contains (($day + 6) % 7) -and $minute -lt $end) { return $true }
        }
    }
    return $false
}

if ($Params.window -and -not (Test-PyWindow $Params.window (Get-Date))) {
    return @{
        changed = $false; in_window = $false; found_update_count = 0; installed_update_count = 0
        reboot_required = $false; updates = @{}
        msg = "outside maintenance window '$($Params.window)' (host time $((Get-Date).ToString('ddd HH:mm'))): nothing done"
    }
}

$worker = @'
param([string] $Folder)
$ErrorActionPreference = 'Stop'
$options = Get-Content -LiteralPath (Join-Path $Folder 'options.json') -Raw | ConvertFrom-Json
$result = @{ updates = @(); filtered = @(); reboot_required = $false; failed = $false; msg = '' }
try {
    $session = New-Object -ComObject Microsoft.Update.Session
    $session.ClientApplicationID = 'pyengine'
    $searcher = $session.CreateUpdateSearcher()
    $searcher.ServerSelection = @{ default = 0; managed_server = 1; windows_update = 2 }[$options.server_selection]
    $found = $searcher.Search("IsInstalled=0 and IsHidden=0").Updates
    $wanted = @($options.category_names | ForEach-Object { ($_ -replace '\s', '').ToLower() })
    $selected = New-Object -ComObject Microsoft.Update.UpdateColl
    foreach ($update in $found) {
        $kbs = @($update.KBArticleIDs | ForEach-Object { "KB$_" })
        $categories = @($update.Categories | ForEach-Object { $_.Name })
        $info = @{ id = $update.Identity.UpdateID; title = $update.Title; kb = $kbs; categories = $categories; installed = $false }
        $inCategory = $wanted -contains '*' -or @($categories | Where-Object { $wanted -contains (($_ -replace '\s', '').ToLower()) }).Count -gt 0
        $text = @($kbs) + @($update.Title)
        $accepted = $options.accept_list.Count -eq 0 -or @($options.accept_list | Where-Object { $p = $_; @($text | Where-Object { $_ -match $p }).Count }).Count -gt 0
        $rejected = @($options.reject_list | Where-Object { $p = $_; @($text | Where-Object { $_ -match $p }).Count }).Count -gt 0
        if (-not $inCategory -or -not $accepted -or $rejected) {
            $info.filtered_reason = $(if (-not $inCategory) { 'category' } elseif ($rejected) { 'reject_list' } else { 'accept_list' })
            $result.filtered += $info
            continue
        }
        if (-not $update.EulaAccepted) { $update.AcceptEula() }
        [void]$selected.Add($update)
        $result.updates += $info
    }
    if ($options.state -ne 'searched' -and $selected.Count -gt 0) {
        $downloader = $session.CreateUpdateDownloader()
        $downloader.Updates = $selected
        [void]$downloader.Download()
        if ($options.state -eq 'installed') {
            $installer = $session.CreateUpdateInstaller()
            $installer.Updates = $selected
            $outcome = $installer.Install()
            for ($i = 0; $i -lt $selected.Count; $i++) {
                $code = $outcome.GetUpdateResult($i).ResultCode
                $result.updates[$i].installed = ($code -eq 2 -or $code -eq 3)
                $result.updates[$i].result_code = $code
            }
            $result.reboot_required = [bool]$outcome.RebootRequired
            if ($outcome.ResultCode -notin 2, 3) { $result.failed = $true; $result.msg = "install result code $($outcome.ResultCode)" }
        }
    }
}
catch {
    $result.failed = $true
    $result.msg = $_.Exception.Message
}
$json = ConvertTo-Json -InputObject $result -Depth 6
[IO.File]::WriteAllText((Join-Path $Folder 'result.json'), $json, (New-Object System.Text.UTF8Encoding($false)))
'@

$folder = Join-Path $env:ProgramData ('pyengine\wu-' + [Guid]::NewGuid().ToString('N'))
$taskName = 'pyengine-win-updates-' + [Guid]::NewGuid().ToString('N').Substring(0, 12)
$options = @{
    category_names   = @($Params.category_names)
    accept_list      = @($Params.accept_list)
    reject_list      = @($Params.reject_list)
    state            = $(if ($Context.check_mode) { 'searched' } else { $Params.state })
    server_selection = $Params.server_selection
}
New-Item -Path $folder -ItemType Directory -Force | Out-Null
try {
    # Only SYSTEM and Administrators may read the options and results.
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {
        $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($identity, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow')))
    }
    Set-Acl -LiteralPath $folder -AclObject $acl
    [IO.File]::WriteAllText((Join-Path $folder 'options.json'), (ConvertTo-Json $options -Depth 4))
    [IO.File]::WriteAllText((Join-Path $folder 'worker.ps1'), $worker, (New-Object System.Text.UTF8Encoding($false)))
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -Folder "{1}"' -f (Join-Path $folder 'worker.ps1'), $folder)
    $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
    Register-ScheduledTask -TaskName $taskName -Action $action -Principal $principal -Force | Out-Null
    Start-ScheduledTask -TaskName $taskName
    $deadline = (Get-Date).AddSeconds($Params.timeout)
    $resultFile = Join-Path $folder 'result.json'
    while (-not (Test-Path -LiteralPath $resultFile)) {
        if ((Get-Date) -gt $deadline) { throw "Windows Update worker did not finish within $($Params.timeout)s" }
        $state = (Get-ScheduledTask -TaskName $taskName).State
        if ($state -eq 'Ready' -and -not (Test-Path -LiteralPath $resultFile)) {
            Start-Sleep -Seconds 2
            if (-not (Test-Path -LiteralPath $resultFile)) { throw 'Windows Update worker ended without a result' }
        }
        Start-Sleep -Seconds 5
    }
    $outcome = Get-Content -LiteralPath $resultFile -Raw | ConvertFrom-Json
}
finally {
    Unregister-ScheduledTask -TaskName $taskName -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction SilentlyContinue
}
$installed = @($outcome.updates | Where-Object { $_.installed })
$updates = @{}
foreach ($u in @($outcome.updates)) { $updates[$u.id] = @{ title = $u.title; kb = @($u.kb); categories = @($u.categories); installed = [bool]$u.installed } }
@{
    in_window              = $true
    changed                = ($installed.Count -gt 0) -or ($Context.check_mode -and @($outcome.updates).Count -gt 0 -and $Params.state -eq 'installed')
    failed                 = [bool]$outcome.failed
    msg                    = $(if ($outcome.msg) { $outcome.msg } else { "$(@($outcome.updates).Count) found, $($installed.Count) installed" })
    found_update_count     = @($outcome.updates).Count
    installed_update_count = $installed.Count
    updates                = $updates
    filtered_updates       = @($outcome.filtered)
    reboot_required        = [bool]$outcome.reboot_required
}
