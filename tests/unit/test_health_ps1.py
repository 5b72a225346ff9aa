"""modules/health.ps1, the Windows twin of health.py: well formed, reads only arguments
that health.py declares (the controller validates against those), with the same
defaults, and returns the result keys the controller reads. No PowerShell runs here (no
Windows host on these machines): it is lexed by tests/pslex.py."""

from __future__ import annotations

import re
from pathlib import Path

from pslex import check

from pyengine.modspec import find_module, read_spec

ROOT = Path(__file__).resolve().parents[2]
PS1 = ROOT / "modules" / "health.ps1"
PARAM_REF = re.compile(r"\$Params(?:\.(\w+)|\[['\"](\w+)['\"]\])")


def test_twin_is_found_beside_the_python_module_and_well_formed() -> None:
    spec = find_module("health")
    assert spec is not None and spec.ps1_path is not None
    assert spec.ps1_path.resolve() == PS1.resolve()
    source = PS1.read_text(encoding="utf-8")
    check(source)
    assert re.search(r"^param\(\$Params, \$Context\)$", source, re.M)


def test_reads_declared_arguments_with_the_python_modules_defaults() -> None:
    python = find_module("health")
    assert python is not None
    twin = read_spec(PS1, "module")
    code = PS1.read_text(encoding="utf-8").split("#>", 2)[-1]
    read = {a or b for a, b in PARAM_REF.findall(code)}
    assert read == set(twin.args), sorted(read ^ set(twin.args))
    for name, arg in twin.args.items():
        assert name in python.args, name
        assert arg.get("default") == python.args[name].get("default"), name
        assert arg.get("type") == python.args[name].get("type"), name


def test_returns_the_result_keys_the_controller_reads() -> None:
    source = PS1.read_text(encoding="utf-8")
    tail = source[source.rindex("\n@{"):]
    for key in ("changed = $false", "state =", "checks =", "summary =", "thresholds =",
                "taken =", "ran ="):
        assert key in tail, key
