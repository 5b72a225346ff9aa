"""The built-in playbooks under Ansible's template rules: `trim_blocks` is on for every
template (a YAML value too), so a `{% endif %}` ending a line of a shell script must not
swallow the line break (`{% endif +%}` keeps it). Each templated string is rendered with
and without trim_blocks, for each value of the flags it tests; the commands (non-blank
lines) must be the same."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from pyengine.templating.environment import ENV

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
FLAGS = ("ansible_check_mode", "baseline_faillock", "baseline_pam_force")


def _templates(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if "{%" in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _templates(item)


def _env(trim: bool) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, trim_blocks=trim,
                             keep_trailing_newline=True)
    env.filters.update(ENV.filters)
    env.tests.update(ENV.tests)
    return env


CASES = [(path, text) for path in sorted(PLAYBOOKS.rglob("*.yml"))
         for text in _templates(yaml.safe_load(path.read_text()))]


def test_there_are_templated_statements_to_check() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize(("path", "text"), CASES,
                         ids=[f"{p.name}:{i}" for i, (p, _) in enumerate(CASES)])
def test_trim_blocks_keeps_every_command(path: Path, text: str) -> None:
    for values in itertools.product([True, False], repeat=len(FLAGS)):
        variables = dict(zip(FLAGS, values, strict=True))
        trimmed = _env(True).from_string(text).render(variables)
        kept = _env(False).from_string(text).render(variables)
        assert [ln for ln in trimmed.splitlines() if ln.strip()] == \
            [ln for ln in kept.splitlines() if ln.strip()], f"{path}: {text[:80]!r}"
