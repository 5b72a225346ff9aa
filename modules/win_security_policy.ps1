<#
.SYNOPSIS
Set one local security policy value (secedit INF section/key), e.g. password and lockout policy.
#>
<#ARGS
{
  "section": {"type": "str", "required": true, "help": "INF section, e.g. System Access, Privilege Rights, Registry Values."},
  "key": {"type": "str", "required": true, "help": "Key in the section, e.g. MinimumPasswordLength."},
  "value": {"type": "str", "required": true, "help": "Wanted value as secedit writes it."}
}
#>
param($Params, $Context)

$work = Join-Path ([IO.Path]::GetTempPath()) ('pyengine-secedit-' + [Guid]::NewGuid().ToString('N'))
New-Item -Path $work -ItemType Directory | Out-Null
try {
    $export = Join-Path $work 'export.inf'
    $out = & secedit.exe /export /cfg $export /quiet
    if ($LASTEXITCODE -ne 0) { throw "secedit /export failed: $($out -join ' ')" }
    $section = $null
    $current = $null
    $known = $false
    foreach ($line in Get-Content -LiteralPath $export) {
        if ($line -match '^\[(.+)\]$') { $section = $Matches[1]; continue }
        if ($section -eq $Params.section -and $line -match '^\s*([^=]+?)\s*=\s*(.*)$' -and $Matches[1] -eq $Params.key) {
            $current = $Matches[2].Trim('"'); $known = $true
        }
        if ($section -eq $Params.section) { $known = $true }
    }
    if (-not $known) { throw "section [$($Params.section)] not found in the exported policy" }
    $changed = [string]$current -ne [string]$Params.value
    if ($changed -and -not $Context.check_mode) {
        $inf = Join-Path $work 'apply.inf'
        $db = Join-Path $work 'apply.sdb'
        $content = "[Unicode]`r`nUnicode=yes`r`n[Version]`r`nsignature=`"`$CHICAGO`$`"`r`nRevision=1`r`n[$($Params.section)]`r`n$($Params.key) = $($Params.value)`r`n"
        [IO.File]::WriteAllText($inf, $content, [Text.Encoding]::Unicode)
        $out = & secedit.exe /configure /db $db /cfg $inf /quiet
        if ($LASTEXITCODE -ne 0) { throw "secedit /configure failed: $($out -join ' ')" }
    }
    @{
        changed = $changed
        section = $Params.section
        key     = $Params.key
        value   = $Params.value
        msg     = $(if ($changed) { "$($Params.key): '$current' -> '$($Params.value)'" } else { 'policy already as wanted' })
        diff    = @{ before = "$($Params.key) = $current"; after = "$($Params.key) = $($Params.value)" }
    }
}
finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
