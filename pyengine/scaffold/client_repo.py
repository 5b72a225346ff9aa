"""The files of a new MSP repository (`pyengine init DIR`): one inventory folder per client.

Layout, and why:

    ansible.cfg                       inventory = every client folder; read by pyengine and
                                      by ansible-playbook alike
    inventory/<client>/hosts.yml      the client's hosts in <client>_linux, <client>_windows
                                      (and <client>_jump); group names carry the client so
                                      two clients' group_vars never mix when run together
    inventory/<client>/group_vars/<client>/main.yml    client-wide: pyengine_client, patch
                                      window, nightly settings, baseline_waivers
    inventory/<client>/group_vars/<client>/vault.yml   the client's secrets, vault-encrypted
                                      (labelled with the client as vault id)
    inventory/<client>/group_vars/<client>_linux.yml   SSH settings, the jump host
    inventory/<client>/group_vars/<client>_windows.yml WinRM settings
    playbooks/                        a copy of pyengine's playbooks, owned by the MSP
    README.md, .gitignore

Pure text builders: the command writes the files and handles the vault password.
"""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE_CLIENTS = ("acme", "globex")


@dataclass(frozen=True)
class Client:
    """One client of the example: its name, a private subnet and whether a jump host
    fronts its Linux hosts."""

    name: str
    subnet: int  # 10.<subnet>.0.0/24 (documentation addresses: replace with real ones)
    jump: bool


def example_clients(names: tuple[str, ...] = EXAMPLE_CLIENTS) -> list[Client]:
    """The first client sits behind a jump host, the others are reached directly."""
    return [Client(name, 10 + index * 10, index == 0) for index, name in enumerate(names)]


def hosts_yml(client: Client) -> str:
    c = client.name
    jump = (f"""        {c}_jump:
          hosts:
            {c}-jump:
              ansible_host: 203.0.113.{client.subnet}
""" if client.jump else "")
    linux_children = f"        {c}_linux:\n" + (f"        {c}_jump:\n" if client.jump else "")
    return f"""# Client {c}: its hosts by platform. Client-wide settings live in group_vars/{c}/
# (main.yml in plain text, vault.yml encrypted); platform settings in
# group_vars/{c}_linux.yml and group_vars/{c}_windows.yml.
# Group names start with the client so two clients never share a group's variables;
# `linux` and `windows` gather every client's hosts (playbooks/nightly.yml uses `windows`).
all:
  children:
    {c}:
      children:
        {c}_linux:
          hosts:
            {c}-web1:
              ansible_host: 10.{client.subnet}.0.11
            {c}-db1:
              ansible_host: 10.{client.subnet}.0.21
        {c}_windows:
          hosts:
            {c}-dc1:
              ansible_host: 10.{client.subnet}.0.31
{jump}    linux:
      children:
{linux_children}    windows:
      children:
        {c}_windows:
"""


def client_vars_yml(client: Client) -> str:
    c = client.name
    return f"""# Settings for every host of {c}. Secrets go to vault.yml beside this file
# (`pyengine vault edit inventory/{c}/group_vars/{c}/vault.yml`).
pyengine_client: {c}

# The nightly job (playbooks/nightly.yml): audit the baseline, apply security patches
# inside the patch window (on the host's clock), reboot only when required.
nightly_baseline_mode: audit
patch_mode: security
patch_window: "Sat 02:00-05:00"
patch_reboot: auto

# Baseline controls this client accepts as failing: shown as "waived" (not failed)
# in the compliance summary and the morning report until they expire, then failed
# again. Every waiver needs the control (number or tag), a reason and an expiry date.
baseline_waivers:
  - control: "5.3.3.2.2"
    reason: "{c}'s ERP login accepts 8-character passwords only (ticket {c.upper()}-123)"
    expires: 2027-03-01
"""


def vault_plaintext(client: Client) -> str:
    c = client.name
    return f"""# {c}'s secrets (this file is vault-encrypted in the repository).
vault_{c}_winrm_password: change-me
vault_{c}_become_password: change-me
"""


def linux_vars_yml(client: Client) -> str:
    c = client.name
    if client.jump:
        reach = f"""# {c}'s Linux hosts are reached through its jump host ({c}-jump in hosts.yml,
# which itself is reached directly: see {c}_jump.yml).
ansible_ssh_common_args: "-o ProxyJump=ops@203.0.113.{client.subnet}"
"""
    else:
        reach = f"# {c}'s Linux hosts are reached directly (no jump host).\n"
    return f"""{reach}ansible_user: ops
ansible_become_password: "{{{{ vault_{c}_become_password }}}}"
"""


def jump_vars_yml(client: Client) -> str:
    return f"""# The jump host itself is reached directly (it is not in {client.name}_linux).
ansible_user: ops
ansible_become_password: "{{{{ vault_{client.name}_become_password }}}}"
"""


def windows_vars_yml(client: Client) -> str:
    c = client.name
    return f"""# {c}'s Windows hosts: WinRM over HTTPS with NTLM.
ansible_connection: winrm
ansible_port: 5986
ansible_user: pyengine
ansible_password: "{{{{ vault_{c}_winrm_password }}}}"
ansible_winrm_transport: ntlm
ansible_winrm_server_cert_validation: validate
"""


def ansible_cfg(clients: list[Client]) -> str:
    folders = ",".join(f"inventory/{c.name}" for c in clients)
    return f"""# Read by pyengine and by ansible-playbook (the settings both understand).
[defaults]
inventory = {folders}
forks = 50
host_key_checking = True
"""


GITIGNORE = """# Run records and local state (pyengine writes them here)
.pyengine/
config-backup/
report.html
*.retry
# Vault passwords never enter the repository
*.pass
.vault-pass*
"""


def readme(clients: list[Client], password_hint: str) -> str:
    names = ", ".join(c.name for c in clients)
    first = clients[0].name
    inventories = " ".join(f"-i inventory/{c.name}" for c in clients)
    return f"""# MSP configuration repository

Managed with pyengine: one inventory folder per client ({names}).

    inventory/<client>/hosts.yml                  hosts by platform (<client>_linux, ..._windows)
    inventory/<client>/group_vars/<client>/       client-wide settings (main.yml) and secrets
                                                  (vault.yml, encrypted)
    inventory/<client>/group_vars/<client>_*.yml  SSH / jump host / WinRM settings
    playbooks/                                    the nightly job, baseline, patching, backup

## Vault password

{password_hint}

    export PYENGINE_VAULT_PASSWORD_FILE=/path/to/that/file
    pyengine vault edit inventory/{first}/group_vars/{first}/vault.yml

## Check before the first night

    pyengine check-syntax playbooks/nightly.yml -i inventory/{first}
    pyengine inventory graph -i inventory/{first}
    pyengine run playbooks/nightly.yml -i inventory/{first} --check

## The nightly schedule

    # /etc/pyengine/nightly.env (mode 0600): PYENGINE_VAULT_PASSWORD_FILE=/path/to/that/file
    pyengine schedule install --at 02:00 {inventories} --env-file /etc/pyengine/nightly.env

Every morning: `pyengine report -o report.html` (per client: score, failures,
unreachable hosts, pending patches, reboots, drift) and
`pyengine compliance .pyengine/pyengine-nightly.json` (the failing controls).

## Waivers

A control a client accepts as failing goes into its `baseline_waivers`
(group_vars/<client>/main.yml, or a host's host_vars): control, reason, expiry date.
It shows as waived until it expires, then as failed again.
"""
