<#
.SYNOPSIS
Ensure a registry key or value exists with the given data and type, or is absent.
Values are compared by type and data, so a second run reports no change.
#>
<#ARGS
{"ARGS": {
  "path": {"type": "str", "required": true, "aliases": ["key"], "help": "Registry key, e.g. HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\DNSClient."},
  "name": {"type": "str", "aliases": ["entry", "value"], "help": "Value name; omit to manage the key itself."},
  "data": {"type": "raw", "help": "Value data (int for dword/qword, list for multistring, hex string or int list for binary)."},
  "type": {"type": "str", "default": "string", "aliases": ["datatype"], "choices": ["none", "binary", "dword", "expandstring", "multistring", "string", "qword"], "help": "Registry value type."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent"], "help": "Whether the key/value should exist."},
  "delete_key": {"type": "bool", "default": true, "help": "With state=absent and no name, delete the key and its subkeys."}
}}
#>
param($Params, $Context)

$path = $Params.path -replace '^(HKLM|HKCU|HKCR|HKU|HKCC)\\', '$1:\'
$name = $Params.name
$kinds = @{
    none = 'None'; binary = 'Binary'; dword = 'DWord'; expandstring = 'ExpandString'
    multistring = 'MultiString'; string = 'String'; qword = 'QWord'
}
$kind = $kinds[$Params.type]

function ConvertTo-RegData($Data, $Type) {
    switch ($Type) {
        'dword' { return [int32][int64]$Data }
        'qword' { return [int64]$Data }
        'multistring' { return [string[]]@($Data) }
        'binary' {
            if ($Data -is [string]) {
                $hex = $Data -replace '^hex:', '' -replace '[,\s]', ''
                return [byte[]]($hex -split '(..)' | Where-Object { $_ } | ForEach-Object { [Convert]::ToByte($_, 16) })
            }
            return [byte[]]@($Data)
        }
        default { if ($null -eq $Data) { return '' } return [string]$Data }
    }
}

function Format-RegData($Data) {
    if ($null -eq $Data) { return '' }
    if ($Data -is [array]) { return ($Data | ForEach-Object { [string]$_ }) -join ',' }
    return [string]$Data
}

$changed = $false
$before = ''
$after = ''
$keyExists = Test-Path -LiteralPath $path

if ($Params.state -eq 'absent') {
    if (-not $name) {
        if ($keyExists -and $Params.delete_key) {
            $changed = $true
            $before = "key $path"
            if (-not $Context.check_mode) { Remove-Item -LiteralPath $path -Recurse -Force }
        }
    }
    elseif ($keyExists) {
        $item = Get-Item -LiteralPath $path
        if ($item.GetValueNames() -contains $name) {
            $changed = $true
            $before = "$name=" + (Format-RegData $item.GetValue($name, $null, 'DoNotExpandEnvironmentNames'))
            if (-not $Context.check_mode) { Remove-ItemProperty -LiteralPath $path -Name $name -Force }
        }
    }
    return @{ changed = $changed; msg = $(if ($changed) { 'removed' } else { 'already absent' }); diff = @{ before = $before; after = '' } }
}

if (-not $keyExists) {
    $changed = $true
    if (-not $Context.check_mode) { New-Item -Path $path -Force | Out-Null }
}
if ($name) {
    $wanted = ConvertTo-RegData $Params.data $Params.type
    $current = $null
    $currentKind = $null
    if ($keyExists) {
        $item = Get-Item -LiteralPath $path
        if ($item.GetValueNames() -contains $name) {
            $current = $item.GetValue($name, $null, 'DoNotExpandEnvironmentNames')
            $currentKind = [string]$item.GetValueKind($name)
        }
    }
    $before = if ($null -ne $currentKind) { "$name ($currentKind)=" + (Format-RegData $current) } else { '' }
    $after = "$name ($kind)=" + (Format-RegData $wanted)
    if ($before -ne $after) {
        $changed = $true
        if (-not $Context.check_mode) {
            New-ItemProperty -LiteralPath $path -Name $name -Value $wanted -PropertyType $kind -Force | Out-Null
        }
    }
}
@{
    changed = $changed
    msg     = $(if ($changed) { 'registry updated' } else { 'registry already as wanted' })
    diff    = @{ before = $before; after = $after; before_header = $path; after_header = $path }
}
