<#
.SYNOPSIS
Ensure users or groups are (or are not, or are the only) members of a local group.
#>
<#ARGS
{
  "name": {"type": "str", "required": true, "help": "Local group name."},
  "members": {"type": "list", "elements": "str", "required": true, "help": "Members (user, DOMAIN\\user, group)."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent", "pure"], "help": "present adds, absent removes, pure makes them the only members."}
}
#>
param($Params, $Context)

$group = Get-LocalGroup -Name $Params.name -ErrorAction SilentlyContinue
if (-not $group) { throw "local group '$($Params.name)' not found" }

function Get-ShortName($Member) { return ($Member -split '\\')[-1].ToLower() }

$current = @(Get-LocalGroupMember -Group $group.Name -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
$currentShort = @($current | ForEach-Object { Get-ShortName $_ })
$wanted = @($Params.members)
$wantedShort = @($wanted | ForEach-Object { Get-ShortName $_ })
$add = @(); $remove = @()
switch ($Params.state) {
    'present' { $add = @($wanted | Where-Object { $currentShort -notcontains (Get-ShortName $_) }) }
    'absent' { $remove = @($wanted | Where-Object { $currentShort -contains (Get-ShortName $_) }) }
    'pure' {
        $add = @($wanted | Where-Object { $currentShort -notcontains (Get-ShortName $_) })
        $remove = @($current | Where-Object { $wantedShort -notcontains (Get-ShortName $_) })
    }
}
$changed = ($add.Count + $remove.Count) -gt 0
if ($changed -and -not $Context.check_mode) {
    foreach ($m in $add) { Add-LocalGroupMember -Group $group.Name -Member $m }
    foreach ($m in $remove) { Remove-LocalGroupMember -Group $group.Name -Member $m }
}
@{
    changed = $changed
    name    = $group.Name
    added   = $add
    removed = $remove
    msg     = $(if ($changed) { "added [$($add -join ', ')], removed [$($remove -join ', ')]" } else { 'membership already as wanted' })
    diff    = @{ before = (($current | Sort-Object) -join "`n"); after = ((@($current | Where-Object { $remove -notcontains $_ }) + $add | Sort-Object) -join "`n") }
}
