"""Playbooks that use collections and Ansible's role search: FQCN roles, `collections:`,
roles_path, role meta `collections:`, and `notify` on a block.

Every test isolates Ansible's settings: HOME, the working folder and the collections
path point into the test's temp folder, so nothing on the machine takes part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.errors import PlaybookErrors
from pyengine.playbook import load_playbook, walk
from pyengine.playbook.context import LoadContext
from pyengine.playbook.model import Block, Playbook, Task
from pyengine.playbook.tasks import resolve_action_name


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.delenv("ANSIBLE_ROLES_PATH", raising=False)
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(tmp_path / "colls"))
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


COLLECTION = "colls/ansible_collections/acme/hardening"


def load(root: Path, files: dict[str, str]) -> Playbook:
    write(root, files)
    return load_playbook(root / "site.yml")


def role_tasks(book: Playbook) -> list[Task]:
    return walk(book.plays[0].roles)


def test_role_by_fqcn_from_the_collections_path(project: Path) -> None:
    write(project.parent, {
        f"{COLLECTION}/roles/base/tasks/main.yml": "- name: one\n  debug: msg=1\n",
        f"{COLLECTION}/roles/base/handlers/main.yml": "- name: restart\n  debug: msg=r\n",
    })
    book = load(project, {"site.yml": "- hosts: all\n  roles:\n    - acme.hardening.base\n"})
    (task,) = role_tasks(book)
    assert task.role is not None
    assert (task.role.name, task.role.collection) == ("base", "acme.hardening")
    assert task.role.fqcn == "acme.hardening.base"
    # A collection role resolves short names in its own collection, then ansible.builtin.
    assert task.collections == ["acme.hardening", "ansible.builtin"]
    assert [h.name for h in book.plays[0].handlers] == ["restart"]


def test_role_by_fqcn_from_collections_beside_the_playbook(project: Path) -> None:
    write(project, {
        "collections/ansible_collections/acme/local/roles/r/tasks/main.yml": "- ping:\n"})
    book = load(project, {"site.yml": "- hosts: all\n  roles: [acme.local.r]\n"})
    assert role_tasks(book)[0].role.collection == "acme.local"  # type: ignore[union-attr]


def test_short_role_name_through_the_play_collections_keyword(project: Path) -> None:
    write(project.parent, {f"{COLLECTION}/roles/base/tasks/main.yml": "- ping:\n"})
    book = load(project, {"site.yml": (
        "- hosts: all\n  collections: [acme.hardening]\n  roles:\n    - base\n"
        "  tasks:\n    - ping:\n  handlers:\n    - name: h\n      ping:\n")})
    assert book.plays[0].handlers[0].collections == ["acme.hardening", "ansible.legacy"]
    assert role_tasks(book)[0].role.fqcn == "acme.hardening.base"  # type: ignore[union-attr]
    # The play's own tasks carry the play's list (ansible.legacy appended, as Ansible does)
    assert walk(book.plays[0].tasks)[0].collections == ["acme.hardening", "ansible.legacy"]
    # ... and so do its handlers; its role does not inherit it.
    assert role_tasks(book)[0].collections == ["acme.hardening", "ansible.builtin"]


def test_roles_from_ansible_roles_path_and_ansible_cfg(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write(project.parent, {"shared/from_env/tasks/main.yml": "- ping:\n",
                           "cfgroles/from_cfg/tasks/main.yml": "- ping:\n"})
    site = {"site.yml": "- hosts: all\n  roles: [from_cfg]\n"}
    with pytest.raises(PlaybookErrors, match="role 'from_cfg' not found"):
        load(project, site)
    write(project, {"ansible.cfg": "[defaults]\nroles_path = ../cfgroles\n"})
    assert role_tasks(load(project, site))[0].role.path == \
        project.parent / "cfgroles/from_cfg"  # type: ignore[union-attr]
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", str(project.parent / "shared"))
    with pytest.raises(PlaybookErrors):  # the variable replaces the file's setting
        load(project, site)
    book = load(project, {"site.yml": "- hosts: all\n  roles: [from_env]\n"})
    assert role_tasks(book)[0].role.name == "from_env"  # type: ignore[union-attr]


def test_dependency_by_short_name_inside_the_collection(project: Path) -> None:
    write(project.parent, {
        f"{COLLECTION}/roles/app/meta/main.yml": "dependencies: [common]\n",
        f"{COLLECTION}/roles/app/tasks/main.yml": "- name: app\n  ping:\n",
        f"{COLLECTION}/roles/common/tasks/main.yml": "- name: common\n  ping:\n",
    })
    book = load(project, {"site.yml": "- hosts: all\n  roles: [acme.hardening.app]\n"})
    assert [(t.name, t.role.fqcn) for t in role_tasks(book)] == [  # type: ignore[union-attr]
        ("common", "acme.hardening.common"), ("app", "acme.hardening.app")]


def test_role_meta_collections_are_searched(project: Path) -> None:
    write(project.parent, {"colls/ansible_collections/acme/deps/roles/helper/tasks/main.yml":
                           "- name: helped\n  ping:\n"})
    write(project, {
        "roles/legacy/meta/main.yml": "collections: [acme.deps]\ndependencies: [helper]\n",
        "roles/legacy/tasks/main.yml": "- name: mine\n  ping:\n",
    })
    book = load(project, {"site.yml": "- hosts: all\n  roles: [legacy]\n"})
    tasks = role_tasks(book)
    assert [t.name for t in tasks] == ["helped", "mine"]
    assert tasks[1].collections == ["acme.deps", "ansible.legacy"]


def test_short_module_names_resolve_in_listed_collections(project: Path) -> None:
    pytest.importorskip("ansible_collections.community.general")
    ctx = LoadContext(basedir=project)
    # community.general (from `pip install ansible`) has ini_file: the listed collection's
    # module wins; pyengine then runs it natively under that name.
    assert resolve_action_name("ini_file", ["community.general", "ansible.legacy"], ctx) \
        == "community.general.ini_file"
    assert resolve_action_name("copy", ["community.general", "ansible.legacy"], ctx) == "copy"
    assert resolve_action_name("ini_file", [], ctx) == "ini_file"
    assert resolve_action_name("ansible.builtin.copy", ["community.general"], ctx) == \
        "ansible.builtin.copy"
    book = load(project, {"site.yml": (
        "- hosts: all\n  collections: [community.general]\n  tasks:\n"
        "    - ini_file: {path: /tmp/x.ini, section: s, option: o, value: v}\n")})
    assert walk(book.plays[0].tasks)[0].action == "ini_file"


def test_included_tasks_keep_the_collections_list(project: Path) -> None:
    from pyengine.playbook import load_include

    write(project, {"inc.yml": "- ping:\n"})
    book = load(project, {"site.yml": (
        "- hosts: all\n  collections: [acme.hardening]\n  tasks:\n"
        "    - include_tasks: inc.yml\n")})
    include = walk(book.plays[0].tasks)[0]
    (inner,) = walk(load_include(include, "inc.yml", book.plays[0]))
    assert inner.collections == ["acme.hardening", "ansible.legacy"]


@pytest.mark.parametrize("value, message", [
    ("['{{ c }}']", "'collections' cannot be templated"),
    ("[community]", "'collections' items are collection names such as 'community.general'"),
    ("{a: b}", "'collections' must be a string or a list of strings"),
])
def test_bad_collections_keyword(project: Path, value: str, message: str) -> None:
    with pytest.raises(PlaybookErrors) as err:
        load(project, {"site.yml": f"- hosts: all\n  collections: {value}\n  tasks: []\n"})
    assert message in str(err.value)
    assert "site.yml:2:" in str(err.value)


def test_collections_on_a_role_entry_warns(project: Path) -> None:
    write(project, {"roles/r/tasks/main.yml": "- ping:\n"})
    book = load(project, {"site.yml": (
        "- hosts: all\n  roles:\n    - role: r\n      collections: [a.b]\n")})
    assert any("'collections' on a role entry has no effect" in w for w in book.warnings)


def test_notify_on_a_block_reaches_its_tasks(project: Path) -> None:
    book = load(project, {"site.yml": """\
- hosts: all
  tasks:
    - name: grouped
      notify: restart
      block:
        - name: inherits
          ping:
        - name: own wins
          ping:
          notify: reload
        - block:
            - name: nested inherits
              ping:
      rescue:
        - name: rescuer inherits
          ping:
  handlers:
    - name: restart
      ping:
    - name: reload
      ping:
"""})
    block = book.plays[0].tasks[0]
    assert isinstance(block, Block)
    assert {t.name: t.notify for t in walk([block])} == {
        "inherits": ["restart"], "own wins": ["reload"], "nested inherits": ["restart"],
        "rescuer inherits": ["restart"]}


def test_notify_on_a_block_names_a_handler_that_must_exist(project: Path) -> None:
    with pytest.raises(PlaybookErrors, match="notify: no handler named 'nope'"):
        load(project, {"site.yml": (
            "- hosts: all\n  tasks:\n    - notify: nope\n      block:\n        - ping:\n")})


def test_role_handlers_answer_to_role_qualified_names(project: Path) -> None:
    write(project.parent, {
        f"{COLLECTION}/roles/web/tasks/main.yml": (
            "- ping:\n  notify: 'acme.hardening.web : restart'\n"
            "- ping:\n  notify: 'web : reload all'\n"),
        f"{COLLECTION}/roles/web/handlers/main.yml": (
            "- name: restart\n  ping:\n- name: reload\n  listen: reload all\n  ping:\n"),
    })
    book = load(project, {"site.yml": "- hosts: all\n  roles: [acme.hardening.web]\n"})
    restart, reload = book.plays[0].handlers
    assert restart.listen == ["web : restart", "acme.hardening.web : restart"]
    assert reload.listen == ["reload all", "web : reload", "web : reload all",
                             "acme.hardening.web : reload", "acme.hardening.web : reload all"]


def test_import_playbook_by_fqcn_from_a_collection(project: Path) -> None:
    write(project.parent, {
        f"{COLLECTION}/playbooks/baseline.yml": "- name: from the collection\n  hosts: all\n"
                                                "  tasks: [{ping: }]\n",
        f"{COLLECTION}/playbooks/sub/deep.yaml": "- name: deeper\n  hosts: all\n"
                                                 "  tasks: []\n",
    })
    book = load(project, {"site.yml": (
        "- import_playbook: acme.hardening.baseline\n"
        "- import_playbook: acme.hardening.sub.deep\n"
        "- import_playbook: acme.hardening.baseline.yml\n")})
    assert [p.name for p in book.plays] == ["from the collection", "deeper",
                                           "from the collection"]
    with pytest.raises(PlaybookErrors, match="imported playbook 'acme.hardening.nope' not"):
        load(project, {"site.yml": "- import_playbook: acme.hardening.nope\n"})


FROB = '''DOCUMENTATION = r"""
module: frob
short_description: a module of a test collection
options:
  level: {type: int}
"""
'''


def test_short_module_name_of_an_installed_collection(project: Path) -> None:
    """`collections: [acme.tools]` lets `frob:` mean acme.tools.frob (run by the module
    bridge), in the play and in a statically checked include; without it `frob` is
    unknown."""
    write(project.parent, {"colls/ansible_collections/acme/tools/plugins/modules/frob.py":
                           FROB})
    write(project, {"inc.yml": "- frob: {level: 3}\n"})
    book = load(project, {"site.yml": (
        "- hosts: all\n  collections: [acme.tools]\n  tasks:\n    - frob: {level: 2}\n"
        "    - include_tasks: inc.yml\n")})
    assert walk(book.plays[0].tasks)[0].action == "acme.tools.frob"
    with pytest.raises(PlaybookErrors, match="unknown module or keyword 'frob'"):
        load(project, {"site.yml": "- hosts: all\n  tasks:\n    - frob: {level: 2}\n"})
    with pytest.raises(PlaybookErrors, match="inc.yml:1:3: unknown module or keyword 'frob'"):
        load(project, {"site.yml": "- hosts: all\n  tasks:\n    - include_tasks: inc.yml\n"})
