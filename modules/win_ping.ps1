<#
.SYNOPSIS
Check that the Windows host answers and the PowerShell runner works.
#>
<#ARGS
{"data": {"type": "str", "default": "pong", "help": "Value to return as `ping`; 'crash' raises."}}
#>
param($Params, $Context)

if ($Params.data -eq 'crash') { throw 'boom' }
@{ changed = $false; ping = $Params.data; msg = 'pong' }
