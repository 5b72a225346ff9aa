"""Whatever YAML a user feeds the loader, the answer is a model or a clean PlaybookError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyengine.errors import PlaybookError
from pyengine.playbook import load_playbook
from pyengine.playbook.model import Playbook

KEYS = ["hosts", "tasks", "name", "when", "loop", "with_items", "block", "rescue", "always",
        "roles", "role", "vars", "become", "tags", "notify", "handlers", "listen", "register",
        "serial", "command", "shell", "copy", "file", "debug", "set_fact", "include_tasks",
        "import_tasks", "import_playbook", "meta", "args", "action", "local_action",
        "loop_control", "environment", "until", "retries", "vars_files", "pre_tasks",
        "ansible.builtin.copy", "src", "dest", "msg", "path", "state", "_raw_params"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False),
    st.sampled_from(["all", "{{ x }}", "{{ x | ", "{% if %}", "present", "a=1 b=2", "x y=z",
                     "yes", "'q", "item", "roles/../x", "web[01:02]", "~", "*", "", "[1,2]"]),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)
raw_text = st.lists(st.sampled_from(list("- :{}[]!&*|>'\"#%\n\t xa1@`,?") +
                                   ["!vault ", "&a ", "*a", "<<: ", "---\n", "{{", "hosts: ",
                                    "tasks:\n", "  - ", "    ", "!unsafe ", "\ufeff"]),
                    max_size=40).map("".join)


def load(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yml"
        path.write_text(text)
        try:
            result = load_playbook(path)
        except PlaybookError as err:
            assert str(err)  # a message to print, never empty
            return
        assert isinstance(result, Playbook)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(documents, st.dictionaries(st.sampled_from(KEYS), documents,
                                                     min_size=1, max_size=6)), max_size=3))
def test_any_yaml_document_gives_a_model_or_a_playbook_error(doc: object) -> None:
    load(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_text)
def test_any_text_gives_a_model_or_a_playbook_error(text: str) -> None:
    load(text)


tasks = st.lists(st.dictionaries(st.sampled_from(KEYS), documents, min_size=1, max_size=4),
                 max_size=4)
plays = st.fixed_dictionaries(
    {"hosts": scalars},
    optional={"tasks": tasks, "handlers": tasks, "pre_tasks": tasks, "vars": documents,
              "roles": documents, "become": scalars, "serial": documents},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plays, min_size=1, max_size=2))
def test_play_shaped_documents_give_a_model_or_a_playbook_error(doc: object) -> None:
    load(yaml.safe_dump(doc, allow_unicode=True))
