<#
.SYNOPSIS
Manage a local Windows user account: existence, password, flags and group membership.
#>
<#ARGS
{
  "name": {"type": "str", "required": true, "help": "Account name."},
  "state": {"type": "str", "default": "present", "choices": ["present", "absent", "query"], "help": "Wanted state; query only reports."},
  "fullname": {"type": "str", "help": "Full name."},
  "description": {"type": "str", "help": "Description."},
  "password": {"type": "str", "no_log": true, "help": "Password (from a vault)."},
  "update_password": {"type": "str", "default": "always", "choices": ["always", "on_create"], "help": "When to set the password."},
  "password_never_expires": {"type": "bool", "help": "Whether the password never expires."},
  "password_expired": {"type": "bool", "help": "Force a password change at next logon."},
  "user_cannot_change_password": {"type": "bool", "help": "Whether the user may change the password."},
  "account_disabled": {"type": "bool", "help": "Whether the account is disabled."},
  "account_locked": {"type": "bool", "help": "Only false: unlock a locked account."},
  "groups": {"type": "list", "elements": "str", "help": "Groups for the account."},
  "groups_action": {"type": "str", "default": "add", "choices": ["add", "replace", "remove"], "help": "How groups apply."}
}
#>
param($Params, $Context)

$name = $Params.name
$user = Get-LocalUser -Name $name -ErrorAction SilentlyContinue
$changed = $false
$actions = New-Object System.Collections.ArrayList

function Get-UserGroups($Name) {
    $found = @()
    foreach ($group in Get-LocalGroup) {
        $members = @(Get-LocalGroupMember -Group $group.Name -ErrorAction SilentlyContinue | ForEach-Object { ($_.Name -split '\\')[-1] })
        if ($members -contains $Name) { $found += $group.Name }
    }
    return $found
}

if ($Params.state -eq 'query') {
    return @{ changed = $false; name = $name; state = $(if ($user) { 'present' } else { 'absent' }); msg = 'queried' }
}
if ($Params.state -eq 'absent') {
    if ($user) {
        if (-not $Context.check_mode) { Remove-LocalUser -Name $name }
        return @{ changed = $true; name = $name; state = 'absent'; msg = 'user removed' }
    }
    return @{ changed = $false; name = $name; state = 'absent'; msg = 'user already absent' }
}

if (-not $user) {
    $changed = $true
    [void]$actions.Add('created')
    if (-not $Context.check_mode) {
        if ($Params.password) {
            $secure = ConvertTo-SecureString -String $Params.password -AsPlainText -Force
            $user = New-LocalUser -Name $name -Password $secure
        }
        else { $user = New-LocalUser -Name $name -NoPassword }
    }
}
elseif ($Params.password -and $Params.update_password -eq 'always') {
    # Windows cannot tell whether a password matches without a logon attempt; like Ansible,
    # test it with LogonUser and only set it when it differs.
    Add-Type -Namespace PyEngine -Name Logon -MemberDefinition @'
[DllImport("advapi32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
public static extern bool LogonUser(string user, string domain, string password, int type, int provider, out IntPtr token);
[DllImport("kernel32.dll")] public static extern bool CloseHandle(IntPtr handle);
'@ -ErrorAction SilentlyContinue
    $token = [IntPtr]::Zero
    $ok = [PyEngine.Logon]::LogonUser($name, '.', $Params.password, 3, 0, [ref]$token)
    if ($ok) { [void][PyEngine.Logon]::CloseHandle($token) }
    $code = [Runtime.InteropServices.Marshal]::GetLastWin32Error()
    # 1326 = wrong password; 1385/1909/1331 mean the password was right but logon is barred.
    if (-not $ok -and $code -eq 1326) {
        $changed = $true
        [void]$actions.Add('password set')
        if (-not $Context.check_mode) {
            Set-LocalUser -Name $name -Password (ConvertTo-SecureString -String $Params.password -AsPlainText -Force)
        }
    }
}

$settings = @{}
if ($user) {
    if ($null -ne $Params.fullname -and $user.FullName -ne $Params.fullname) { $settings.FullName = $Params.fullname }
    if ($null -ne $Params.description -and $user.Description -ne $Params.description) { $settings.Description = $Params.description }
    if ($null -ne $Params.password_never_expires -and ($null -eq $user.PasswordExpires) -ne $Params.password_never_expires) {
        $settings.PasswordNeverExpires = $Params.password_never_expires
    }
    if ($null -ne $Params.user_cannot_change_password -and (-not $user.UserMayChangePassword) -ne $Params.user_cannot_change_password) {
        $settings.UserMayChangePassword = -not $Params.user_cannot_change_password
    }
}
if ($settings.Count) {
    $changed = $true
    [void]$actions.Add('settings: ' + (($settings.Keys | Sort-Object) -join ', '))
    if (-not $Context.check_mode) { Set-LocalUser -Name $name @settings }
}
if ($user -and $null -ne $Params.account_disabled -and (-not $user.Enabled) -ne $Params.account_disabled) {
    $changed = $true
    [void]$actions.Add($(if ($Params.account_disabled) { 'disabled' } else { 'enabled' }))
    if (-not $Context.check_mode) {
        if ($Params.account_disabled) { Disable-LocalUser -Name $name } else { Enable-LocalUser -Name $name }
    }
}
if ($user -and $Params.account_locked -eq $false) {
    $adsi = [ADSI]"WinNT://./$name,user"
    if ($adsi.IsAccountLocked) {
        $changed = $true
        [void]$actions.Add('unlocked')
        if (-not $Context.check_mode) { $adsi.IsAccountLocked = $false; $adsi.SetInfo() }
    }
}
if ($user -and $null -ne $Params.password_expired) {
    $adsi = [ADSI]"WinNT://./$name,user"
    $expired = [int]$adsi.PasswordExpired.Value -eq 1
    if ($expired -ne $Params.password_expired) {
        $changed = $true
        [void]$actions.Add('password_expired')
        if (-not $Context.check_mode) { $adsi.PasswordExpired = [int]$Params.password_expired; $adsi.SetInfo() }
    }
}
if ($null -ne $Params.groups) {
    $current = $(if ($user) { @(Get-UserGroups $name) } else { @() })
    $wanted = @($Params.groups)
    $add = @(); $remove = @()
    switch ($Params.groups_action) {
        'add' { $add = @($wanted | Where-Object { $current -notcontains $_ }) }
        'remove' { $remove = @($wanted | Where-Object { $current -contains $_ }) }
        'replace' {
            $add = @($wanted | Where-Object { $current -notcontains $_ })
            $remove = @($current | Where-Object { $wanted -notcontains $_ })
        }
    }
    if ($add.Count -or $remove.Count) {
        $changed = $true
        [void]$actions.Add("groups +[$($add -join ',')] -[$($remove -join ',')]")
        if (-not $Context.check_mode) {
            foreach ($g in $add) { Add-LocalGroupMember -Group $g -Member $name }
            foreach ($g in $remove) { Remove-LocalGroupMember -Group $g -Member $name }
        }
    }
}
@{
    changed = $changed
    name    = $name
    state   = 'present'
    msg     = $(if ($changed) { $actions -join '; ' } else { 'user already as wanted' })
}
