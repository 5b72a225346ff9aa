"""The Windows modules (.ps1): well formed, declared arguments match what they read.

No PowerShell runs here (no Windows host on these machines). Each module is checked by
tests/pslex.py (strings, comments, bracket balance) and against its own ARGS block:
every argument the controller may send is declared, and every `$Params.x` the code
reads is one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pslex import PsSyntaxError, check

from pyengine.agent.powershell import BOOTSTRAP, RUNNER_PATH
from pyengine.modspec import read_spec
from pyengine.paths import builtin_modules_dir

PS1_MODULES = sorted(builtin_modules_dir().glob("win_*.ps1"))
EXPECTED = {
    "win_regedit", "win_service", "win_file", "win_copy", "win_lineinfile", "win_user",
    "win_group_membership", "win_feature", "win_firewall", "win_firewall_rule",
    "win_audit_policy_system", "win_security_policy", "win_shell", "win_command",
    "win_updates", "win_ping",
}
PARAM_REF = re.compile(r"\$Params(?:\.(\w+)|\[['\"](\w+)['\"]\])")


def test_every_windows_module_of_the_issue_exists() -> None:
    assert EXPECTED <= {p.stem for p in PS1_MODULES}


@pytest.mark.parametrize("path", PS1_MODULES, ids=lambda p: p.stem)
def test_module_is_well_formed(path: Path) -> None:
    check(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", PS1_MODULES, ids=lambda p: p.stem)
def test_module_reads_only_declared_arguments_and_uses_them_all(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    spec = read_spec(path, "module")
    assert spec.args, f"{path.name}: no <#ARGS block"
    assert spec.doc, f"{path.name}: no description comment"
    assert re.search(r"^param\(\$Params, \$Context\)$", source, re.M), "module signature"
    code = source.split("#>", 2)[-1]
    read = {a or b for a, b in PARAM_REF.findall(code)}
    declared = set(spec.args)
    assert read <= declared, f"reads undeclared {sorted(read - declared)}"
    assert declared <= read, f"declares unused {sorted(declared - read)}"


def test_runner_and_bootstrap_are_well_formed() -> None:
    check(RUNNER_PATH.read_text(encoding="utf-8"))
    check(BOOTSTRAP)


@pytest.mark.parametrize("bad", [
    "if ($x) { 'a' ", "'unterminated", '"a $(b "c" "', "<# open", "@'\nno end", "(]",
])
def test_lexer_catches_broken_code(bad: str) -> None:
    with pytest.raises(PsSyntaxError):
        check(bad)


@pytest.mark.parametrize("good", [
    "'it''s'", '"a `" b"', '"x $($y.z("q")) w"', "@'\n(unbalanced in here-string\n'@",
    "# comment with ( and '\n$a = 1", "<# block ( ' #> $b = @{ c = [int]'1' }",
])
def test_lexer_accepts_valid_code(good: str) -> None:
    check(good)
