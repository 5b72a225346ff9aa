"""Template parity with ansible-core: every case in tests/parity/template_cases.yaml is
evaluated by the installed ansible-core (one subprocess for all cases) and by pyengine,
and the two must agree: the same value and type, or both an error.

A case that differs on purpose carries `differs: <reason>` and must be listed by id in
docs/PLAYBOOKS.md; a difference not marked that way fails, and so does a marked case
that no longer differs (the list stays true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
PARITY = HERE.parent / "parity"
CASES_FILE = PARITY / "template_cases.yaml"
DOC = HERE.parent.parent / "docs" / "PLAYBOOKS.md"

pytest.importorskip("ansible", reason="the parity suite needs ansible-core (test extra)")

SPEC = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = SPEC["cases"]


def _case_json(case: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in case.items() if k not in ("t", "differs")}
    out["template"] = case["t"]
    return out


@pytest.fixture(scope="session")
def basedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder lookups search (the playbook folder for both engines)."""
    root = tmp_path_factory.mktemp("parity")
    for name, text in (SPEC.get("files") or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def ansible_results(basedir: Path) -> dict[str, Any]:
    """Every case evaluated by ansible-core, once per test session."""
    request = {"basedir": str(basedir), "vars": SPEC.get("vars") or {},
               "cases": [_case_json(c) for c in CASES]}
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(basedir / ".ansible-tmp"),
           "ANSIBLE_HOME": str(basedir / ".ansible-home"), "PYENGINE_PARITY_ENV": "1",
           "PARITY_ENV_VALUE": "from-env"}
    proc = subprocess.run([sys.executable, str(PARITY / "ansible_oracle.py")],
                          input=json.dumps(request), capture_output=True, text=True,
                          cwd=basedir, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout))


def _plain(value: Any) -> Any:
    """The same JSON shape the oracle writes (dicts as ordered pairs, types kept)."""
    sys.path.insert(0, str(PARITY))
    try:
        from ansible_oracle import _plain as oracle_plain
    finally:
        sys.path.pop(0)
    return oracle_plain(value)


def _pyengine(case: dict[str, Any], basedir: Path) -> dict[str, Any]:
    import pyengine.vars  # noqa: F401 - adds the vault filters, as a run does
    from pyengine.errors import PyengineError
    from pyengine.templating import Templar

    variables = {**(SPEC.get("vars") or {}), **(case.get("vars") or {})}
    templar = Templar(variables, [basedir])
    kind = case.get("kind", "yaml")
    cwd = os.getcwd()
    os.chdir(basedir)
    os.environ["PARITY_ENV_VALUE"] = "from-env"
    try:
        if kind in ("yaml", "loop"):
            value = templar.render(case["t"])
        elif kind == "file":
            value = templar.render_text(case["t"], dict(case.get("overrides") or {}))
        elif kind == "when":
            value = templar.evaluate(case["t"])
        elif kind == "with":
            value = templar.render(_with_loop(case))
        else:
            raise AssertionError(f"unknown kind {kind}")
        return {"value": _plain(value)}
    except PyengineError as err:
        return {"error": str(err)}
    finally:
        os.chdir(cwd)


def _with_loop(case: dict[str, Any]) -> Any:
    """The loop value the playbook loader makes of `with_<lookup>: t`."""
    from pyengine.playbook.context import LoadContext
    from pyengine.playbook.loops import parse_loop

    ctx = LoadContext(Path.cwd())
    task = {case.get("action", "debug"): {}, f"with_{case['lookup']}": case["t"]}
    loop = parse_loop(task, ctx, None)
    assert not ctx.problems.errors, ctx.problems.errors
    return loop


def _agree(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    if "error" in ours or "error" in theirs:
        return "error" in ours and "error" in theirs
    return bool(ours["value"] == theirs["value"])


def test_enough_cases() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 300


def test_listed_differences_are_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    missing = [c["id"] for c in CASES if c.get("differs") and f"`{c['id']}`" not in doc]
    assert not missing, f"differences not listed in docs/PLAYBOOKS.md: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_same_as_ansible(case: dict[str, Any], ansible_results: dict[str, Any],
                         basedir: Path) -> None:
    theirs = ansible_results[case["id"]]
    ours = _pyengine(case, basedir)
    same = _agree(ours, theirs)
    if case.get("differs"):
        assert not same, f"{case['id']} is listed as a difference but now agrees: {ours}"
        return
    assert same, f"{case['t']!r}: pyengine {ours} != ansible-core {theirs}"
