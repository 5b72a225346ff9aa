<#
.SYNOPSIS
Ensure a Windows Firewall rule exists with the given properties, or is absent.
#>
<#ARGS
{
  "name": {"type": "str", "required": true, "help": "Rule display name (unique key)."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent"], "help": "Whether the rule exists."},
  "enabled": {"type": "bool", "default": true, "help": "Whether the rule is enabled."},
  "direction": {"type": "str", "default": "in", "choices": ["in", "out"], "help": "Traffic direction."},
  "action": {"type": "str", "default": "allow", "choices": ["allow", "block"], "help": "What the rule does."},
  "protocol": {"type": "str", "default": "any", "help": "tcp, udp, icmpv4, any or a number."},
  "localport": {"type": "str", "help": "Local port(s), e.g. 3389 or 8000-8010."},
  "remoteport": {"type": "str", "help": "Remote port(s)."},
  "localip": {"type": "str", "help": "Local address(es)."},
  "remoteip": {"type": "str", "help": "Remote address(es)."},
  "program": {"type": "str", "help": "Program path."},
  "service": {"type": "str", "help": "Service name."},
  "profiles": {"type": "list", "elements": "str", "help": "Domain, Private, Public (default any)."},
  "description": {"type": "str", "help": "Rule description."},
  "group": {"type": "str", "help": "Rule group."}
}
#>
param($Params, $Context)

$rule = Get-NetFirewallRule -DisplayName $Params.name -ErrorAction SilentlyContinue | Select-Object -First 1
if ($Params.state -eq 'absent') {
    if ($rule) {
        if (-not $Context.check_mode) { Remove-NetFirewallRule -DisplayName $Params.name }
        return @{ changed = $true; msg = 'rule removed' }
    }
    return @{ changed = $false; msg = 'rule already absent' }
}

$wanted = @{
    Enabled   = $(if ($Params.enabled) { 'True' } else { 'False' })
    Direction = $(if ($Params.direction -eq 'in') { 'Inbound' } else { 'Outbound' })
    Action    = $(if ($Params.action -eq 'allow') { 'Allow' } else { 'Block' })
    Protocol  = $(if ($Params.protocol -eq 'any') { 'Any' } else { $Params.protocol.ToUpper() })
}
if ($Params.localport) { $wanted.LocalPort = $Params.localport }
if ($Params.remoteport) { $wanted.RemotePort = $Params.remoteport }
if ($Params.localip) { $wanted.LocalAddress = $Params.localip }
if ($Params.remoteip) { $wanted.RemoteAddress = $Params.remoteip }
if ($Params.program) { $wanted.Program = $Params.program }
if ($Params.service) { $wanted.Service = $Params.service }
if ($Params.profiles) { $wanted.Profile = ($Params.profiles -join ',') }
if ($null -ne $Params.description) { $wanted.Description = $Params.description }

if (-not $rule) {
    if (-not $Context.check_mode) {
        $create = $wanted.Clone()
        if ($Params.group) { $create.Group = $Params.group }
        New-NetFirewallRule -DisplayName $Params.name @create | Out-Null
    }
    return @{ changed = $true; msg = 'rule created'; diff = @{ before = ''; after = ($wanted | ConvertTo-Json -Compress) } }
}

$ports = $rule | Get-NetFirewallPortFilter
$addresses = $rule | Get-NetFirewallAddressFilter
$apps = $rule | Get-NetFirewallApplicationFilter
$services = $rule | Get-NetFirewallServiceFilter
$current = @{
    Enabled = [string]$rule.Enabled; Direction = [string]$rule.Direction; Action = [string]$rule.Action
    Protocol = [string]$ports.Protocol; LocalPort = ($ports.LocalPort -join ','); RemotePort = ($ports.RemotePort -join ',')
    LocalAddress = ($addresses.LocalAddress -join ','); RemoteAddress = ($addresses.RemoteAddress -join ',')
    Program = [string]$apps.Program; Service = [string]$services.Service
    Profile = [string]$rule.Profile; Description = [string]$rule.Description
}
$update = @{}
foreach ($key in $wanted.Keys) {
    if ([string]$current[$key] -ne [string]$wanted[$key]) { $update[$key] = $wanted[$key] }
}
if ($update.Count -and -not $Context.check_mode) { Set-NetFirewallRule -DisplayName $Params.name @update }
@{
    changed = ($update.Count -gt 0)
    msg     = $(if ($update.Count) { 'updated: ' + (($update.Keys | Sort-Object) -join ', ') } else { 'rule already as wanted' })
    diff    = @{ before = ($current | ConvertTo-Json -Compress); after = ($wanted | ConvertTo-Json -Compress) }
}
