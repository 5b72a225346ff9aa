<#
.SYNOPSIS
Set the system audit policy of a category or subcategory with auditpol.
#>
<#ARGS
{"ARGS": {
  "category": {"type": "str", "help": "Audit category, e.g. Logon/Logoff."},
  "subcategory": {"type": "str", "help": "Audit subcategory, e.g. Logon."},
  "audit_type": {"type": "list", "elements": "str", "required": true, "help": "success, failure and/or none."}
 },
 "REQUIRED_ONE_OF": [["category", "subcategory"]],
 "MUTUALLY_EXCLUSIVE": [["category", "subcategory"]]
}
#>
param($Params, $Context)

$types = @($Params.audit_type | ForEach-Object { $_.ToLower() })
$bad = @($types | Where-Object { @('success', 'failure', 'none') -notcontains $_ })
if ($bad.Count) { throw "audit_type: unknown value(s) $($bad -join ', ') (success, failure, none)" }
if ($types -contains 'none' -and $types.Count -gt 1) { throw "audit_type: 'none' cannot be combined" }
$wantSuccess = $types -contains 'success'
$wantFailure = $types -contains 'failure'

$selector = $(if ($Params.subcategory) { "/subcategory:$($Params.subcategory)" } else { "/category:$($Params.category)" })
# /r gives CSV whose columns do not depend on the display language of the labels we match.
$csv = & auditpol.exe /get $selector /r
if ($LASTEXITCODE -ne 0) { throw "auditpol /get $selector failed: $($csv -join ' ')" }
$rows = @($csv | Where-Object { $_ } | ConvertFrom-Csv)
$current = @{}
$changed = $false
foreach ($row in $rows) {
    $setting = [string]$row.'Inclusion Setting'
    $success = $setting -match 'Success'
    $failure = $setting -match 'Failure'
    $current[$row.Subcategory] = $setting
    if ($success -ne $wantSuccess -or $failure -ne $wantFailure) { $changed = $true }
}
if ($changed -and -not $Context.check_mode) {
    $s = $(if ($wantSuccess) { 'enable' } else { 'disable' })
    $f = $(if ($wantFailure) { 'enable' } else { 'disable' })
    $out = & auditpol.exe /set $selector "/success:$s" "/failure:$f"
    if ($LASTEXITCODE -ne 0) { throw "auditpol /set failed: $($out -join ' ')" }
}
@{
    changed       = $changed
    current_audit_policy = $current
    msg           = $(if ($changed) { "set $selector to $($types -join '+')" } else { 'audit policy already as wanted' })
}
