"""`pyengine init`: the MSP repository it writes loads (inventory graph), its playbooks pass
check-syntax with each client's inventory, its vault files are encrypted with a password
kept outside the repository (0600), and the project's own inventory/ is that same example
(so CI checks what users start from)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PASSWORD = "pyengine-example"


def pyengine(*args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("PYENGINE_VAULT", "ANSIBLE_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "pyengine", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repository made by `pyengine init` with a generated password."""
    config = tmp_path / "config"
    done = pyengine("init", str(tmp_path / "msp"), cwd=tmp_path,
                    env={"XDG_CONFIG_HOME": str(config)})
    assert done.returncode == 0, done.stderr
    password = config / "pyengine" / "msp.vault-pass"
    assert f"vault password: generated and written to {password} (mode 0600)" in done.stdout
    return tmp_path / "msp", password


def test_init_writes_a_repository_whose_vault_password_stays_outside(
        repo: tuple[Path, Path]) -> None:
    msp, password = repo
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert len(password.read_text().strip()) >= 32
    for name in ("ansible.cfg", ".gitignore", "README.md", "playbooks/nightly.yml",
                 "inventory/acme/hosts.yml", "inventory/globex/hosts.yml",
                 "inventory/acme/group_vars/acme/main.yml",
                 "inventory/acme/group_vars/acme_jump.yml"):
        assert (msp / name).is_file(), name
    for client in ("acme", "globex"):
        vault = (msp / f"inventory/{client}/group_vars/{client}/vault.yml").read_text()
        assert vault.startswith(f"$ANSIBLE_VAULT;1.2;AES256;{client}\n")
        assert "change-me" not in vault
    readme = (msp / "README.md").read_text()
    assert "pyengine schedule install --at 02:00 -i inventory/acme -i inventory/globex" \
        in readme
    assert str(password) not in readme  # no machine path in the repository
    assert "*.pass" in (msp / ".gitignore").read_text()
    assert "inventory = inventory/acme,inventory/globex" in (msp / "ansible.cfg").read_text()


def test_init_output_passes_inventory_graph_and_check_syntax(repo: tuple[Path, Path]) -> None:
    msp, password = repo
    env = {"PYENGINE_VAULT_PASSWORD_FILE": str(password)}
    graph = pyengine("inventory", "graph", cwd=msp, env=env)  # ansible.cfg's inventory
    assert graph.returncode == 0, graph.stderr
    for line in ("|--@acme:", "|  |--@acme_jump:", "|--@windows:", "|  |  |--globex-dc1"):
        assert line in graph.stdout
    syntax = pyengine("check-syntax", "playbooks/nightly.yml", "playbooks/baseline-linux.yml",
                      "-i", "inventory/acme", "-i", "inventory/globex", cwd=msp, env=env)
    assert syntax.returncode == 0, syntax.stderr
    assert "playbooks/nightly.yml: ok" in syntax.stdout
    host = pyengine("inventory", "host", "acme-web1", cwd=msp, env=env)
    assert host.returncode == 0, host.stderr
    assert '"control": "5.3.3.2.2"' in host.stdout and 'pyengine_client            = "acme"' \
        in host.stdout
    assert "ProxyJump=ops@203.0.113.10" in host.stdout
    assert "vault_acme_winrm_password  = \"********\"" in host.stdout
    # without the password the vault is refused in one line
    bare = pyengine("inventory", "graph", cwd=msp)
    assert bare.returncode != 0 and "no vault password was given" in bare.stderr


def test_init_refuses_a_non_empty_folder_and_a_password_inside_the_repository(
        tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    busy = pyengine("init", "full", cwd=tmp_path)
    assert busy.returncode != 0 and "not empty" in busy.stderr
    inside = pyengine("init", "new", "--vault-password-file", "new/pw", cwd=tmp_path)
    assert inside.returncode != 0 and "inside the repository" in inside.stderr
    bad = pyengine("init", "other", "--client", "Acme Corp", cwd=tmp_path)
    assert bad.returncode != 0 and "--client 'Acme Corp'" in bad.stderr


def test_project_inventory_is_the_init_example_and_passes_in_ci(tmp_path: Path) -> None:
    """inventory/ at the top of the project is what `init` writes (vault aside: its
    ciphertext differs per salt, so its plaintext is compared)."""
    from pyengine.vault.lib import VaultLib
    from pyengine.vault.secrets import VaultSecret

    given = tmp_path / "example.pass"
    given.write_text(EXAMPLE_PASSWORD + "\n")
    made = pyengine("init", str(tmp_path / "msp"), "--vault-password-file", str(given),
                    cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"read from {given} (given)" in made.stdout
    fresh = tmp_path / "msp" / "inventory"
    ours = ROOT / "inventory"
    names = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(ours) for p in ours.rglob("*")
                           if p.is_file() and p.name != "README.md")
    vault = VaultLib([VaultSecret("default", EXAMPLE_PASSWORD.encode())])
    for name in names:
        if name.name == "vault.yml":
            assert vault.decrypt((ours / name).read_bytes()) == \
                vault.decrypt((fresh / name).read_bytes())
        else:
            assert (ours / name).read_text() == (fresh / name).read_text(), name
    env = {"PYENGINE_VAULT_PASSWORD": EXAMPLE_PASSWORD}
    graph = pyengine("inventory", "graph", "-i", "inventory/acme", "-i", "inventory/globex",
                     cwd=ROOT, env=env)
    assert graph.returncode == 0, graph.stderr
    assert "|  |  |--acme-jump" in graph.stdout
    syntax = pyengine("check-syntax", "playbooks/nightly.yml", "-i", "inventory/acme",
                      "-i", "inventory/globex", cwd=ROOT, env=env)
    assert syntax.returncode == 0, syntax.stderr
