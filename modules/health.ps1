<#
.SYNOPSIS
Read a Windows host's health: disks, services, pending reboot, machine certificates,
Windows Update failures, memory, listening ports. Changes nothing.

The Windows twin of health.py: the controller validates arguments against health.py's
ARGS (the block below lists the ones read here, with the same defaults), and gets the
same result shape (state, checks, summary, thresholds, taken, ran), so trends, new
ports and alerts work unchanged. Not yet run on a real Windows host.
#>
<#ARGS
{
  "checks": {"type": "list", "elements": "str", "default": ["all"], "help": "Checks to run: all, or some of disk, services, reboot, certs, updates, memory, ports."},
  "skip": {"type": "list", "elements": "str", "default": [], "help": "Checks switched off."},
  "disk_warn": {"type": "float", "default": 80.0, "help": "Disk % used for warn."},
  "disk_crit": {"type": "float", "default": 90.0, "help": "Disk % used for crit."},
  "services": {"type": "list", "elements": "str", "default": [], "help": "Services that should run."},
  "cert_warn_days": {"type": "float", "default": 30.0, "help": "Days to expiry for warn."},
  "cert_crit_days": {"type": "float", "default": 7.0, "help": "Days to expiry for crit."},
  "job_warn_hours": {"type": "float", "default": 26.0, "help": "Windows Update failures within these hours are warn."},
  "mem_warn": {"type": "float", "default": 90.0, "help": "Memory % used for warn."},
  "mem_crit": {"type": "float", "default": 97.0, "help": "Memory % used for crit."},
  "ports_expected": {"type": "list", "elements": "int", "default": [], "help": "When set, other listening ports are warn."},
  "trend_days_warn": {"type": "float", "default": 14.0, "help": "Controller: full within these days is warn."},
  "trend_days_crit": {"type": "float", "default": 3.0, "help": "Controller: full within these days is crit."}
}
#>
param($Params, $Context)

$Rank = @{ ok = 0; warn = 1; crit = 2 }
$Rows = New-Object System.Collections.ArrayList

function Add-Row($Check, $State, $Reason, $Item = '', $Value = $null, $Extra = @{}) {
    $row = @{ check = $Check; item = $Item; state = $State; reason = $Reason }
    if ($null -ne $Value) { $row.value = $Value }
    foreach ($key in $Extra.Keys) { $row[$key] = $Extra[$key] }
    [void]$Rows.Add($row)
}

function Get-Level($Value, $Warn, $Crit) {
    if ($Value -ge $Crit) { return 'crit' }
    if ($Value -ge $Warn) { return 'warn' }
    return 'ok'
}

$all = @('disk', 'services', 'reboot', 'certs', 'updates', 'memory', 'ports')
$wanted = @($Params.checks)
$names = if ($wanted -contains 'all') { $all } else { @($all | Where-Object { $wanted -contains $_ }) }
$names = @($names | Where-Object { @($Params.skip) -notcontains $_ })

$checks = @{
    disk = {
        foreach ($disk in Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType=3') {
            if (-not $disk.Size) { continue }
            $used = [math]::Round(100.0 * ($disk.Size - $disk.FreeSpace) / $disk.Size, 1)
            $free = [int64]($disk.FreeSpace / 1MB)
            $size = [int64]($disk.Size / 1MB)
            Add-Row 'disk' (Get-Level $used $Params.disk_warn $Params.disk_crit) ("{0} {1}% used ({2} MiB free of {3} MiB)" -f $disk.DeviceID, $used, $free, $size) $disk.DeviceID $used @{ size_mb = $size; free_mb = $free }
        }
    }
    services = {
        $list = @($Params.services)
        if ($list.Count -eq 0) { Add-Row 'services' 'ok' 'no services configured' '' $null @{ skipped = $true }; return }
        $down = New-Object System.Collections.ArrayList
        foreach ($name in $list) {
            $svc = Get-Service -Name $name -ErrorAction SilentlyContinue
            $status = if ($svc) { $svc.Status.ToString().ToLower() } else { 'not found' }
            if ($status -ne 'running') { [void]$down.Add("$name ($status)") }
        }
        if ($down.Count -eq 0) { Add-Row 'services' 'ok' ("{0} running: {1}" -f $list.Count, ($list -join ', ')) }
        else { Add-Row 'services' 'crit' ('not running: ' + ($down -join ', ')) '' $down.Count }
    }
    reboot = {
        $why = New-Object System.Collections.ArrayList
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { [void]$why.Add('component servicing') }
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { [void]$why.Add('Windows Update') }
        $renames = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -Name PendingFileRenameOperations -ErrorAction SilentlyContinue).PendingFileRenameOperations
        if ($renames) { [void]$why.Add('pending file renames') }
        if ($why.Count -eq 0) { Add-Row 'reboot' 'ok' 'no reboot pending' }
        else { Add-Row 'reboot' 'warn' ('reboot pending (' + ($why -join ', ') + ')') }
    }
    certs = {
        $now = Get-Date
        $found = @(Get-ChildItem -Path 'Cert:\LocalMachine\My' -ErrorAction SilentlyContinue | Where-Object { $_.HasPrivateKey })
        if ($found.Count -eq 0) { Add-Row 'certs' 'ok' 'no certificates with a private key in LocalMachine\My' '' $null @{ skipped = $true }; return }
        foreach ($cert in $found) {
            $days = [math]::Round(($cert.NotAfter.ToUniversalTime() - $now.ToUniversalTime()).TotalDays, 1)
            $state = if ($days -le $Params.cert_crit_days) { 'crit' } elseif ($days -le $Params.cert_warn_days) { 'warn' } else { 'ok' }
            $name = $cert.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false)
            $when = $cert.NotAfter.ToUniversalTime().ToString('yyyy-MM-dd')
            $reason = if ($days -lt 0) { "{0} ({1}) expired {2} days ago ({3})" -f $cert.Thumbprint, $name, [int](-$days), $when } else { "{0} ({1}) expires in {2} days ({3})" -f $cert.Thumbprint, $name, [int][math]::Floor($days), $when }
            Add-Row 'certs' $state $reason ('Cert:\LocalMachine\My\' + $cert.Thumbprint) $days @{ subject = $name; not_after = $when }
        }
    }
    updates = {
        $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
        $count = $searcher.GetTotalHistoryCount()
        if ($count -eq 0) { Add-Row 'updates' 'ok' 'no Windows Update history'; return }
        $since = (Get-Date).ToUniversalTime().AddHours(-1 * $Params.job_warn_hours)
        $failed = New-Object System.Collections.ArrayList
        foreach ($entry in $searcher.QueryHistory(0, [math]::Min(50, $count))) {
            # ResultCode 4 failed, 5 aborted; Operation 1 is an installation
            if ($entry.Operation -eq 1 -and $entry.ResultCode -ge 4 -and $entry.Date -ge $since) { [void]$failed.Add($entry.Title) }
        }
        if ($failed.Count -eq 0) { Add-Row 'updates' 'ok' ("no failed Windows Update installs in {0} h" -f $Params.job_warn_hours) '' 0 }
        else { Add-Row 'updates' 'warn' ("{0} failed Windows Update installs: {1}" -f $failed.Count, ((@($failed) | Select-Object -First 3) -join '; ')) '' $failed.Count }
    }
    memory = {
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $used = [math]::Round(100.0 * (1 - $os.FreePhysicalMemory / $os.TotalVisibleMemorySize), 1)
        Add-Row 'memory' (Get-Level $used $Params.mem_warn $Params.mem_crit) ("memory {0}% used" -f $used) '' $used
    }
    ports = {
        $byPort = @{}
        foreach ($conn in Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue) {
            $port = [int]$conn.LocalPort
            if (-not $byPort.ContainsKey($port)) {
                $proc = (Get-Process -Id $conn.OwningProcess -ErrorAction SilentlyContinue).ProcessName
                $byPort[$port] = @{ port = $port; addresses = New-Object System.Collections.ArrayList; process = "$proc" }
            }
            if (-not $byPort[$port].addresses.Contains($conn.LocalAddress)) { [void]$byPort[$port].addresses.Add($conn.LocalAddress) }
        }
        $listed = @($byPort.Keys | Sort-Object | ForEach-Object { $byPort[$_] })
        $expected = @($Params.ports_expected)
        $unexpected = @($listed | Where-Object { $expected.Count -gt 0 -and $expected -notcontains $_.port } | ForEach-Object { $_.port })
        $text = ($listed | Select-Object -First 20 | ForEach-Object { if ($_.process) { "$($_.port)/$($_.process)" } else { "$($_.port)" } }) -join ', '
        if ($unexpected.Count -gt 0) { Add-Row 'ports' 'warn' ('unexpected listening ports: ' + ($unexpected -join ', ')) '' $listed.Count @{ ports = $listed } }
        else { Add-Row 'ports' 'ok' ("{0} listening TCP ports: {1}" -f $listed.Count, $text) '' $listed.Count @{ ports = $listed } }
    }
}

foreach ($name in $names) {
    try { & $checks[$name] }
    catch { Add-Row $name 'warn' ("check failed: " + $_.Exception.Message) }
}

$summary = @{}
$worst = 'ok'
foreach ($row in $Rows) {
    if (-not $summary.ContainsKey($row.check) -or $Rank[$row.state] -gt $Rank[$summary[$row.check].state]) {
        $summary[$row.check] = @{ state = $row.state; reason = $row.reason }
    }
    if ($Rank[$row.state] -gt $Rank[$worst]) { $worst = $row.state }
}
$bad = @($Rows | Where-Object { $_.state -ne 'ok' } | Sort-Object -Property @{ Expression = { $Rank[$_.state] }; Descending = $true })
$msg = "health $worst"
if ($bad.Count -gt 0) { $msg += ': ' + (($bad | Select-Object -First 3 | ForEach-Object { "$($_.check) $($_.reason)" }) -join '; ') }

@{
    changed = $false
    msg = $msg
    state = $worst
    checks = @($Rows)
    summary = $summary
    thresholds = @{ disk_warn = $Params.disk_warn; disk_crit = $Params.disk_crit; trend_days_warn = $Params.trend_days_warn; trend_days_crit = $Params.trend_days_crit }
    taken = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.ffffff+00:00')
    ran = @($names)
}
