# pyengine PowerShell runner: the Windows counterpart of agent.py.
#
# Started once per batch by the bootstrap in pyengine/agent/powershell.py, which
# reads the payload (base64 JSON) from stdin and calls this script block with it.
# Task arguments arrive as JSON data and become hashtables; no value is ever
# spliced into script text, so quotes, $, backticks and newlines need no escaping.
# Every output line this runner means is "PYENGINE-<KIND>:<base64 of UTF-8 JSON>",
# so console code pages and stray module output cannot corrupt a result.
param([Parameter(Mandatory = $true)] $Payload)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function ConvertTo-PyHashtable {
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $table = @{}
        foreach ($property in $Value.PSObject.Properties) {
            $table[$property.Name] = ConvertTo-PyHashtable $property.Value
        }
        return $table
    }
    if ($Value -is [System.Collections.IList] -and $Value -isnot [string]) {
        $list = New-Object System.Collections.ArrayList
        foreach ($item in $Value) { [void]$list.Add((ConvertTo-PyHashtable $item)) }
        return , $list.ToArray()
    }
    return $Value
}

function Write-PyLine {
    param([string] $Kind, $Data)
    $json = ConvertTo-Json -InputObject $Data -Depth 20 -Compress
    $encoded = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json))
    [Console]::Out.WriteLine("PYENGINE-${Kind}:$encoded")
    [Console]::Out.Flush()
}

function Test-PyRebootPending {
    $keys = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending',
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
    )
    foreach ($key in $keys) { if (Test-Path -LiteralPath $key) { return $true } }
    $session = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' `
        -Name PendingFileRenameOperations -ErrorAction SilentlyContinue
    if ($session -and $session.PendingFileRenameOperations) { return $true }
    $active = (Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName').ComputerName
    $pending = (Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName').ComputerName
    return ($active -ne $pending)
}

function Get-PyFacts {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $cs = Get-CimInstance -ClassName Win32_ComputerSystem
    $roles = @('StandaloneWorkstation', 'MemberWorkstation', 'StandaloneServer', 'MemberServer',
        'BackupDomainController', 'PrimaryDomainController')
    $installType = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion').InstallationType
    return @{
        ansible_os_family              = 'Windows'
        ansible_system                 = 'Win32NT'
        ansible_distribution           = $os.Caption
        ansible_distribution_version   = $os.Version
        ansible_distribution_major_version = $os.Version.Split('.')[0]
        ansible_os_build               = $os.BuildNumber
        ansible_os_installation_type   = $installType
        ansible_os_product_type        = @('', 'workstation', 'domain_controller', 'server')[[int]$os.ProductType]
        ansible_hostname               = $env:COMPUTERNAME
        ansible_fqdn                   = ([System.Net.Dns]::GetHostEntry('localhost')).HostName
        ansible_domain                 = $cs.Domain
        ansible_windows_domain_member  = [bool]$cs.PartOfDomain
        ansible_windows_domain_role    = $roles[[int]$cs.DomainRole]
        ansible_powershell_version     = $PSVersionTable.PSVersion.ToString()
        ansible_architecture           = $os.OSArchitecture
        ansible_memtotal_mb            = [int]($cs.TotalPhysicalMemory / 1MB)
        ansible_processor_vcpus        = [int]$cs.NumberOfLogicalProcessors
        ansible_lastboot               = $os.LastBootUpTime.ToString('o')
        ansible_boot_id                = $os.LastBootUpTime.ToUniversalTime().ToString('o')
        ansible_pkg_mgr                = 'windows_update'
        ansible_service_mgr            = 'windows'
        ansible_user_id                = [Security.Principal.WindowsIdentity]::GetCurrent().Name
        pyengine_reboot_required       = (Test-PyRebootPending)
    }
}

if ($Payload.facts) {
    Write-PyLine 'FACTS' (Get-PyFacts)
}

$modules = @{}
if ($Payload.modules) {
    foreach ($property in $Payload.modules.PSObject.Properties) {
        $modules[$property.Name] = [ScriptBlock]::Create($property.Value)
    }
}

foreach ($task in @($Payload.tasks)) {
    if ($null -eq $task) { continue }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $context = @{
        check_mode = [bool]$task.check_mode
        diff       = [bool]$task.diff
        warnings   = New-Object System.Collections.ArrayList
    }
    try {
        $params = ConvertTo-PyHashtable $task.args
        if ($null -eq $params) { $params = @{} }
        $output = & $modules[$task.module] -Params $params -Context $context
        $result = @($output | Where-Object { $_ -is [hashtable] })[-1]
        if ($null -eq $result) { throw "module $($task.module) returned no result" }
        if (-not $result.ContainsKey('changed')) { $result['changed'] = $false }
        $result['changed'] = [bool]$result['changed']
        $result['failed'] = [bool]$result['failed']
    }
    catch {
        $result = @{
            failed    = $true
            changed   = $false
            msg       = $_.Exception.Message
            exception = ($_ | Out-String)
        }
    }
    if ($context.warnings.Count -gt 0) { $result['warnings'] = @($context.warnings) }
    Write-PyLine 'RESULT' @{ id = $task.id; result = $result; duration_s = $clock.Elapsed.TotalSeconds }
    if ($result['failed'] -and -not $task.ignore_errors) { break }
}
Write-PyLine 'DONE' @{}
