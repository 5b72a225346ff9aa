"""Parsers and command construction of pamd, ufw, openssh_keypair, selinux and seport.

The module files are loaded as plain Python (they are stdlib-only). Recorded command
outputs are quoted inline with where they come from; commands are argv lists.
"""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path
from types import ModuleType

MODULES = Path(__file__).resolve().parents[2] / "modules"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pyengine_module_{name}", MODULES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pamd = _load("pamd")
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


# ------------------------------------------------------------------------- pamd
def test_pamd_tokens_keep_brackets_together() -> None:
    assert pamd.tokens("auth [success=1 default=ignore] pam_mysql.so [query=select x] y") == [
        "auth", "[success=1 default=ignore]", "pam_mysql.so", "[query=select x]", "y"]


def test_pamd_control_normalized_for_matching() -> None:
    assert pamd.normalize_control("[success = 1   default=ignore]") == \
        "[success=1 default=ignore]"
    rule = pamd.parse_rule("session [success=1 default=ignore] pam_succeed_if.so quiet")
    assert rule is not None
    assert rule.matches("session", "[success=1  default = ignore]", "pam_succeed_if.so")
    assert not rule.matches("session", "[success=2 default=ignore]", "pam_succeed_if.so")


def test_pamd_trailing_comment_is_not_an_argument() -> None:
    rule = pamd.parse_rule("session optional pam_mail.so standard noenv # [1]")
    assert rule is not None
    assert rule.args == ["standard", "noenv"] and rule.comment == "# [1]"
    assert rule.render() == "session    optional pam_mail.so standard noenv # [1]"


def test_pamd_backslash_continues_a_rule() -> None:
    lines = pamd.parse_service("auth required pam_env.so \\\n    readenv=1\n# done\n")
    assert isinstance(lines[0], pamd.Rule) and lines[0].args == ["readenv=1"]
    assert lines[1] == "# done"


def test_pamd_render_adds_then_replaces_the_mark() -> None:
    lines = pamd.parse_service("#%PAM-1.0\nauth   required   pam_env.so\n")
    first = pamd.render_service(lines, NOW)
    assert first == ("#%PAM-1.0\n# Updated by Ansible - 2026-01-02T03:04:05\n"
                     "auth       required pam_env.so\n")
    again = pamd.render_service(pamd.parse_service(first), NOW.replace(year=2027))
    assert again == first.replace("2026", "2027")


def test_pamd_args_present_sets_values_in_place_and_appends_in_order() -> None:
    lines = pamd.parse_service("password requisite pam_pwquality.so retry=3 minlen=8\n")
    params = {"type": "password", "control": "requisite", "module_path": "pam_pwquality.so",
              "module_arguments": ["minlen=14", "enforce_for_root", "dcredit=-1 ucredit=-1"],
              "state": "args_present"}
    assert pamd.apply(lines, params) == 1
    assert lines[0].args == ["retry=3", "minlen=14", "enforce_for_root", "dcredit=-1",
                             "ucredit=-1"]
    assert pamd.apply(lines, params) == 0


def test_pamd_after_every_match_and_not_twice() -> None:
    lines = pamd.parse_service("auth required pam_a.so\nauth required pam_a.so\n")
    params = {"type": "auth", "control": "required", "module_path": "pam_a.so",
              "new_type": "auth", "new_control": "optional", "new_module_path": "pam_b.so",
              "module_arguments": None, "state": "after"}
    assert pamd.apply(lines, params) == 2
    assert [r.path for r in lines] == ["pam_a.so", "pam_b.so", "pam_a.so", "pam_b.so"]
    assert pamd.apply(lines, params) == 0


def test_pamd_invalid_bracket_action_is_reported() -> None:
    rule = pamd.parse_rule("auth [success=maybe] pam_x.so")
    assert rule is not None
    assert rule.problem() == ("Rule control action, maybe, is not valid in rule "
                              "auth       [success=maybe] pam_x.so")
    ok = pamd.parse_rule("auth [success=2 new_authtok_reqd=done default=die] pam_x.so")
    assert ok is not None and ok.problem() is None
