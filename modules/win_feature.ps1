<#
.SYNOPSIS
Install or remove Windows Server roles and features (servers only: ServerManager module).
#>
<#ARGS
{
  "name": {"type": "list", "elements": "str", "required": true, "help": "Feature names, e.g. Web-Server, FS-SMB1."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent"], "help": "Wanted state."},
  "include_sub_features": {"type": "bool", "default": false, "help": "Also install sub-features."},
  "include_management_tools": {"type": "bool", "default": false, "help": "Also install management tools."}
}
#>
param($Params, $Context)

if (-not (Get-Command -Name Get-WindowsFeature -ErrorAction SilentlyContinue)) {
    throw 'win_feature needs Windows Server (ServerManager); on client Windows use win_optional_feature'
}
$features = @(Get-WindowsFeature -Name $Params.name)
$missing = @($Params.name | Where-Object { ($features | ForEach-Object { $_.Name }) -notcontains $_ })
if ($missing.Count) { throw "unknown feature(s): $($missing -join ', ')" }
$todo = @($features | Where-Object { $_.Installed -ne ($Params.state -eq 'present') } | ForEach-Object { $_.Name })
$result = @{ changed = ($todo.Count -gt 0); reboot_required = $false; feature_result = @(); msg = '' }
if (-not $todo.Count) { $result.msg = 'features already as wanted'; return $result }
$result.msg = "$($Params.state): $($todo -join ', ')"
if ($Context.check_mode) { return $result }
if ($Params.state -eq 'present') {
    $out = Install-WindowsFeature -Name $todo -IncludeAllSubFeature:$Params.include_sub_features `
        -IncludeManagementTools:$Params.include_management_tools
}
else {
    $out = Uninstall-WindowsFeature -Name $todo
}
if (-not $out.Success) { throw "feature change failed: $($out.ExitCode)" }
$result.reboot_required = [string]$out.RestartNeeded -eq 'Yes'
$result.feature_result = @($out.FeatureResult | ForEach-Object { @{ name = $_.Name; restart_needed = $_.RestartNeeded } })
$result
