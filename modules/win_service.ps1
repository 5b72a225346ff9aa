<#
.SYNOPSIS
Ensure a Windows service is started, stopped or restarted, and has the wanted start mode.
#>
<#ARGS
{
  "name": {"type": "str", "required": true, "help": "Service name (or display name)."},
  "state": {"type": "str", "choices": ["started", "stopped", "restarted", "paused"], "help": "Wanted run state."},
  "start_mode": {"type": "str", "choices": ["auto", "delayed", "manual", "disabled"], "help": "Wanted start mode."},
  "display_name": {"type": "str", "help": "Display name to set."},
  "description": {"type": "str", "help": "Description to set."}
}
#>
param($Params, $Context)

$service = Get-Service -Name $Params.name -ErrorAction SilentlyContinue
if (-not $service) { $service = Get-Service -DisplayName $Params.name -ErrorAction SilentlyContinue }
if (-not $service) { throw "service '$($Params.name)' not found" }
$name = $service.Name
$cim = Get-CimInstance -ClassName Win32_Service -Filter "Name='$($name -replace "'", "''")'"
$delayed = (Get-ItemProperty -LiteralPath "HKLM:\SYSTEM\CurrentControlSet\Services\$name" -Name DelayedAutostart -ErrorAction SilentlyContinue).DelayedAutostart -eq 1
$mode = switch ($cim.StartMode) { 'Auto' { if ($delayed) { 'delayed' } else { 'auto' } } 'Manual' { 'manual' } 'Disabled' { 'disabled' } default { $cim.StartMode.ToLower() } }
$before = @{ state = $service.Status.ToString().ToLower(); start_mode = $mode; display_name = $service.DisplayName; description = $cim.Description }
$after = $before.Clone()
$changed = $false
$actions = New-Object System.Collections.ArrayList

if ($Params.start_mode -and $Params.start_mode -ne $mode) {
    $changed = $true
    $after.start_mode = $Params.start_mode
    [void]$actions.Add("start mode $mode -> $($Params.start_mode)")
    if (-not $Context.check_mode) {
        if ($Params.start_mode -eq 'delayed') {
            Set-Service -Name $name -StartupType Automatic
            & sc.exe config $name start= delayed-auto | Out-Null
        }
        else {
            $type = @{ auto = 'Automatic'; manual = 'Manual'; disabled = 'Disabled' }[$Params.start_mode]
            Set-Service -Name $name -StartupType $type
            if ($delayed) { & sc.exe config $name start= auto | Out-Null }
        }
    }
}
if ($Params.display_name -and $Params.display_name -ne $service.DisplayName) {
    $changed = $true
    $after.display_name = $Params.display_name
    if (-not $Context.check_mode) { Set-Service -Name $name -DisplayName $Params.display_name }
}
if ($null -ne $Params.description -and $Params.description -ne $cim.Description) {
    $changed = $true
    $after.description = $Params.description
    if (-not $Context.check_mode) { Set-Service -Name $name -Description $Params.description }
}

$status = $service.Status.ToString()
switch ($Params.state) {
    'started' {
        if ($status -ne 'Running') {
            $changed = $true; $after.state = 'running'; [void]$actions.Add('started')
            if (-not $Context.check_mode) { Start-Service -Name $name }
        }
    }
    'stopped' {
        if ($status -ne 'Stopped') {
            $changed = $true; $after.state = 'stopped'; [void]$actions.Add('stopped')
            if (-not $Context.check_mode) { Stop-Service -Name $name -Force }
        }
    }
    'restarted' {
        $changed = $true; $after.state = 'running'; [void]$actions.Add('restarted')
        if (-not $Context.check_mode) { Restart-Service -Name $name -Force }
    }
    'paused' {
        if ($status -ne 'Paused') {
            $changed = $true; $after.state = 'paused'; [void]$actions.Add('paused')
            if (-not $Context.check_mode) { Suspend-Service -Name $name }
        }
    }
}
@{
    changed    = $changed
    name       = $name
    state      = $after.state
    start_mode = $after.start_mode
    msg        = $(if ($changed) { $actions -join ', ' } else { 'service already as wanted' })
    diff       = @{ before = ($before | ConvertTo-Json -Compress); after = ($after | ConvertTo-Json -Compress) }
}
