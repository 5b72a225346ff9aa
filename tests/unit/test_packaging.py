"""The built-in content is found from a checkout and from an installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pyengine.paths import builtin_modules_dir, builtin_playbooks_dir, builtin_roles_dir

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, pyengine.paths as p
print(json.dumps({
    "package": p.__file__,
    "modules": sorted(x.name for x in p.builtin_modules_dir().iterdir()),
    "playbooks": sorted(x.name for x in p.builtin_playbooks_dir().glob("*.yml")),
    "roles": sorted(x.name for x in p.builtin_roles_dir().iterdir()),
}))
"""


def test_checkout_finds_the_repository_content() -> None:
    assert builtin_modules_dir().resolve() == (ROOT / "modules").resolve()
    assert builtin_playbooks_dir().resolve() == (ROOT / "playbooks").resolve()
    assert (builtin_modules_dir() / "lineinfile.py").is_file()
    assert (builtin_roles_dir() / "patch").is_dir()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                           "--outdir", str(out), str(ROOT)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return next(out.glob("pyengine-*.whl"))


def test_wheel_carries_modules_playbooks_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for wanted in ("pyengine/_content/modules/lineinfile.py",
                   "pyengine/_content/modules/module_utils/textfile.py",
                   "pyengine/_content/modules/win_regedit.ps1",
                   "pyengine/_content/playbooks/nightly.yml",
                   "pyengine/_content/playbooks/roles/patch/tasks/main.yml",
                   "pyengine/agent/runner.ps1",
                   "pyengine/report/templates/report.html.j2"):
        assert wanted in names, wanted
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_installed_wheel_finds_its_own_content(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json

    found = json.loads(proc.stdout)
    assert found["package"].startswith(str(target))
    assert {"copy.py", "apt.py", "patch.py", "win_updates.ps1"} <= set(found["modules"])
    assert {"nightly.yml", "patch.yml", "backup.yml", "baseline-linux.yml"} <= set(
        found["playbooks"])
    assert {"baseline_linux", "baseline_windows", "patch"} <= set(found["roles"])
    doc = subprocess.run([sys.executable, "-m", "pyengine", "check-syntax",
                          str(target / "pyengine/_content/playbooks/nightly.yml")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert doc.returncode == 0, doc.stdout + doc.stderr
