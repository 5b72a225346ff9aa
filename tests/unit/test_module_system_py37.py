"""The system, package and command modules run under Python 3.7, the oldest target Python.

Syntax is checked elsewhere; this runs the modules' code (through runtime.run_module,
as the agent does) with a real 3.7 interpreter on temporary folders or in check mode,
so a 3.8+ library call would fail here. Skipped when no Python 3.7 is installed.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python37() -> str | None:
    """A working 3.7 interpreter (a pyenv shim that cannot run counts as none)."""
    candidates = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.7*/bin/python")))
    candidates += [p for p in [shutil.which("python3.7")] if p]
    for python in candidates:
        probe = subprocess.run([python, "-c", "import sys; assert sys.version_info[:2] == (3, 7)"],
                               capture_output=True)
        if probe.returncode == 0:
            return python
    return None


SCRIPT = r'''
import json, os, sys, tempfile
sys.path.insert(0, os.path.join(ROOT, "pyengine", "agent"))
import runtime
def run(name, args, **kw):
    src = open(os.path.join(ROOT, "modules", name + ".py")).read()
    return runtime.run_module(src, args, name=name, diff_mode=True, **kw)
d = tempfile.mkdtemp()
os.makedirs(d + "/proc/net/ipv4")
open(d + "/proc/net/ipv4/ip_forward", "w").write("0\n")
key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtU5Wq0v8wPp3oQ0yY5s1dVh0Wq0dCk3vXz1v6bX0xG a"
results = {
  "sysctl": run("sysctl", {"name": "net.ipv4.ip_forward", "value": 1,
                           "sysctl_file": d + "/s.conf", "_proc_sys": d + "/proc"}),
  "cron": run("cron", {"name": "x", "job": "/bin/true", "cron_file": d + "/c", "user": "root"}),
  "authorized_key": run("authorized_key", {"user": "root", "key": key, "path": d + "/ak"}),
  "command": run("command", {"argv": ["echo", "hi"]}),
  "shell": run("shell", {"cmd": "echo $((1+1))"}),
  "user": run("user", {"name": "root", "shell": "/nonexistent/sh"}, check_mode=True),
  "group": run("group", {"name": "root"}, check_mode=True),
  "hostname": run("hostname", {"name": "pyetest-never-set"}, check_mode=True),
  "package_facts": run("package_facts", {"manager": ["auto"]}),
  "apt": run("apt", {"name": ["pyetest-never-there"]}, check_mode=True),
}
print(json.dumps(dict((k, {"exception": v.get("exception"), "failed": v.get("failed"),
                           "changed": v.get("changed"), "msg": v.get("msg")})
                      for k, v in results.items())))
'''


@pytest.mark.skipif(_python37() is None, reason="no Python 3.7 interpreter here")
def test_modules_run_on_python37() -> None:
    python = _python37()
    assert python
    proc = subprocess.run([python, "-c", f"ROOT = {str(ROOT)!r}\n" + SCRIPT],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, result in results.items():
        assert result["exception"] is None, f"{name}: {result['exception']}"
    assert results["sysctl"]["changed"] and results["cron"]["changed"]
    assert results["command"]["changed"] and not results["command"]["failed"]
    assert results["user"]["changed"] and "would change shell" in results["user"]["msg"]
    assert results["hostname"]["changed"]
    assert results["apt"]["failed"] and "No package matching" in results["apt"]["msg"]
