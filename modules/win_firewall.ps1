<#
.SYNOPSIS
Enable or disable Windows Firewall per profile and set its default inbound/outbound actions.
#>
<#ARGS
{
  "profiles": {"type": "list", "elements": "str", "default": ["Domain", "Private", "Public"], "help": "Profiles to manage."},
  "state": {"type": "str", "choices": ["enabled", "disabled"], "help": "Firewall on or off."},
  "inbound_action": {"type": "str", "choices": ["allow", "block", "not_configured"], "help": "Default for inbound traffic."},
  "outbound_action": {"type": "str", "choices": ["allow", "block", "not_configured"], "help": "Default for outbound traffic."}
}
#>
param($Params, $Context)

$map = @{ allow = 'Allow'; block = 'Block'; not_configured = 'NotConfigured' }
$changed = $false
$details = @{}
foreach ($name in $Params.profiles) {
    $profile = Get-NetFirewallProfile -Name $name
    $set = @{}
    if ($Params.state) {
        $enabled = [string]$profile.Enabled -eq 'True'
        if ($enabled -ne ($Params.state -eq 'enabled')) { $set.Enabled = $(if ($Params.state -eq 'enabled') { 'True' } else { 'False' }) }
    }
    if ($Params.inbound_action -and [string]$profile.DefaultInboundAction -ne $map[$Params.inbound_action]) {
        $set.DefaultInboundAction = $map[$Params.inbound_action]
    }
    if ($Params.outbound_action -and [string]$profile.DefaultOutboundAction -ne $map[$Params.outbound_action]) {
        $set.DefaultOutboundAction = $map[$Params.outbound_action]
    }
    if ($set.Count) {
        $changed = $true
        $details[$name] = ($set.Keys | Sort-Object) -join ', '
        if (-not $Context.check_mode) { Set-NetFirewallProfile -Name $name @set }
    }
}
@{
    changed = $changed
    msg     = $(if ($changed) { ($details.GetEnumerator() | ForEach-Object { "$($_.Key): $($_.Value)" }) -join '; ' } else { 'firewall already as wanted' })
}
