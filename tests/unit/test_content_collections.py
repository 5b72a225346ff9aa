"""Collections, modules and roles found where Ansible finds them, in its order.

Fake collections are built in temp folders; each test passes an explicit
AnsibleConfig so the machine's settings never take part. Where the answer depends on
the collections `pip install ansible` put in site-packages (community.general,
ansible.posix), the test says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyengine.content.ansible_config import AnsibleConfig, load_ansible_config
from pyengine.content.collections import (
    collection_of_path,
    collection_roots,
    find_ansible_module,
    find_collection,
    find_collection_role,
    route_plugin,
)
from pyengine.content.roles import find_role, role_search_paths


def make_collection(root: Path, fqcn: str, modules: tuple[str, ...] = (),
                    roles: tuple[str, ...] = (), runtime: str = "") -> Path:
    namespace, name = fqcn.split(".")
    folder = root / "ansible_collections" / namespace / name
    (folder / "plugins" / "modules").mkdir(parents=True)
    for module in modules:
        (folder / "plugins" / "modules" / f"{module}.py").write_text("# module\n")
    for role in roles:
        (folder / "roles" / role / "tasks").mkdir(parents=True)
        (folder / "roles" / role / "tasks" / "main.yml").write_text("- ping:\n")
    if runtime:
        (folder / "meta").mkdir()
        (folder / "meta" / "runtime.yml").write_text(runtime)
    return folder


def config_for(paths: list[Path], scan_sys_path: bool = False, **more: object) -> AnsibleConfig:
    return AnsibleConfig(collections_path=paths, collections_scan_sys_path=scan_sys_path,
                         home=Path("/nonexistent-home"), **more)  # type: ignore[arg-type]


def test_order_is_beside_playbook_then_configured_then_sys_path(tmp_path: Path) -> None:
    book = tmp_path / "project"
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (book / "collections", a, b):
        make_collection(root, "acme.tools", modules=("m",))
    config = config_for([a, b / "ansible_collections"], scan_sys_path=True)
    roots = collection_roots(book, config)
    assert roots[:3] == [book / "collections", a, b]  # a root may name ansible_collections
    site = next(Path(p) for p in sys.path if (Path(p) / "ansible_collections").is_dir())
    assert site in roots[3:]
    assert find_collection("acme.tools", book, config) == \
        book / "collections/ansible_collections/acme/tools"
    assert find_collection("acme.tools", None, config) == a / "ansible_collections/acme/tools"


def test_roots_without_ansible_collections_are_skipped(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    make_collection(tmp_path / "real", "acme.tools")
    config = config_for([empty, tmp_path / "missing", tmp_path / "real"])
    assert collection_roots(None, config) == [tmp_path / "real"]


def test_first_copy_of_a_collection_masks_later_ones(tmp_path: Path) -> None:
    make_collection(tmp_path / "first", "acme.tools", modules=("one",))
    make_collection(tmp_path / "second", "acme.tools", modules=("one", "two"))
    config = config_for([tmp_path / "first", tmp_path / "second"])
    assert find_ansible_module("acme.tools.one", (), None, config) is not None
    assert find_ansible_module("acme.tools.two", (), None, config) is None  # masked
    assert collection_of_path(tmp_path / "second/ansible_collections/acme/tools/x", None,
                              config) is None
    assert collection_of_path(tmp_path / "first/ansible_collections/acme/tools/x", None,
                              config) == "acme.tools"


def test_sys_path_scan_can_be_switched_off(tmp_path: Path) -> None:
    config = config_for([], scan_sys_path=False)
    assert collection_roots(None, config) == []
    assert find_collection("community.general", None, config) is None


def test_env_and_ansible_cfg_choose_the_configured_paths(tmp_path: Path) -> None:
    make_collection(tmp_path / "from_env", "acme.env")
    make_collection(tmp_path / "from_cfg", "acme.cfg")
    (tmp_path / "ansible.cfg").write_text("[defaults]\ncollections_path = from_cfg\n"
                                          "collections_scan_sys_path = false\n")
    home = tmp_path / "home"
    config = load_ansible_config({"HOME": str(home)}, tmp_path)
    assert collection_roots(None, config) == [tmp_path / "from_cfg"]
    config = load_ansible_config({"HOME": str(home), "ANSIBLE_COLLECTIONS_PATH":
                                  str(tmp_path / "from_env")}, tmp_path)
    assert collection_roots(None, config) == [tmp_path / "from_env"]
    make_collection(home / ".ansible/collections", "acme.home")
    (tmp_path / "ansible.cfg").write_text("[defaults]\ncollections_scan_sys_path = false\n")
    config = load_ansible_config({"HOME": str(home)}, tmp_path)
    assert collection_roots(None, config) == [home / ".ansible/collections"]


def test_modules_by_fqcn_short_name_and_collections_list(tmp_path: Path) -> None:
    make_collection(tmp_path, "acme.tools", modules=("frob",))
    config = config_for([tmp_path])
    found = find_ansible_module("frob", ["acme.tools", "ansible.legacy"], None, config)
    assert found is not None and found.fqcn == "acme.tools.frob"
    assert found.path == tmp_path / "ansible_collections/acme/tools/plugins/modules/frob.py"
    assert find_ansible_module("frob", [], None, config) is None
    core = find_ansible_module("copy", ["acme.tools"], None, config)
    assert core is not None and core.fqcn == "ansible.builtin.copy" and core.collection is None


def test_runtime_redirects_and_tombstones(tmp_path: Path) -> None:
    make_collection(tmp_path, "acme.old", runtime=(
        "plugin_routing:\n  modules:\n    frob:\n      redirect: acme.new.frob2\n"
        "      deprecation: {warning_text: moved}\n"
        "    gone:\n      tombstone: {removal_version: '2.0.0', warning_text: use x}\n"))
    make_collection(tmp_path, "acme.new", modules=("frob2",))
    config = config_for([tmp_path])
    found = find_ansible_module("acme.old.frob", (), None, config)
    assert found is not None and found.fqcn == "acme.new.frob2"
    route = route_plugin("acme.old.frob", "modules", None, config)
    assert route.redirected_from == ("acme.old.frob",)
    assert route.deprecation == "acme.old.frob is deprecated: moved"
    assert route_plugin("acme.old.gone", "modules", None, config).removed == \
        "acme.old.gone: use x"
    assert find_ansible_module("acme.old.gone", (), None, config) is None


def test_redirect_loop_is_reported_not_followed_forever(tmp_path: Path) -> None:
    make_collection(tmp_path, "acme.a", runtime=(
        "plugin_routing:\n  modules:\n    x:\n      redirect: acme.b.x\n"))
    make_collection(tmp_path, "acme.b", runtime=(
        "plugin_routing:\n  modules:\n    x:\n      redirect: acme.a.x\n"))
    route = route_plugin("acme.a.x", "modules", None, config_for([tmp_path]))
    assert route.removed is not None and "redirect loop" in route.removed


@pytest.mark.parametrize("name, fqcn", [
    # ansible-core's ansible_builtin_runtime.yml sends these to collections that
    # `pip install ansible` brings into site-packages.
    ("ini_file", "community.general.ini_file"),
    ("ansible.builtin.sysctl", "ansible.posix.sysctl"),
    ("pam_limits", "community.general.pam_limits"),
    ("ansible.builtin.copy", "ansible.builtin.copy"),
])
def test_builtin_names_follow_ansible_core_redirects(name: str, fqcn: str) -> None:
    pytest.importorskip("ansible_collections.community.general")
    found = find_ansible_module(name, (), None, config_for([], scan_sys_path=True))
    assert found is not None and found.fqcn == fqcn


def test_library_folders_come_before_ansible_core(tmp_path: Path) -> None:
    library = tmp_path / "project/library"
    library.mkdir(parents=True)
    (library / "copy.py").write_text("# my own copy\n")
    found = find_ansible_module("copy", (), tmp_path / "project", config_for([]))
    assert found is not None and found.path == library / "copy.py"
    assert found.fqcn == "ansible.legacy.copy"
    assert find_ansible_module("ansible.builtin.copy", (), tmp_path / "project",
                               config_for([])).path != library / "copy.py"  # type: ignore


def test_collection_roles_by_fqcn_and_by_list(tmp_path: Path) -> None:
    make_collection(tmp_path, "acme.tools", roles=("base",))
    config = config_for([tmp_path])
    role = find_collection_role("acme.tools.base", (), None, config)
    assert role is not None and (role.name, role.collection) == ("base", "acme.tools")
    assert role.fqcn == "acme.tools.base"
    assert find_collection_role("base", ["acme.tools"], None, config) == role
    assert find_collection_role("base", [], None, config) is None
    assert find_collection_role("acme.tools.nope", (), None, config) is None


def test_role_search_order(tmp_path: Path) -> None:
    book = tmp_path / "project"
    shared = tmp_path / "shared"
    for where in (book / "roles", shared, book):
        (where / "r" / "tasks").mkdir(parents=True)
    make_collection(tmp_path / "colls", "acme.tools", roles=("r",))
    config = config_for([tmp_path / "colls"], roles_path=[shared])
    assert role_search_paths(book, None, config)[:3] == [book / "roles", shared, book]
    assert find_role("r", book, (), None, config).path == book / "roles/r"  # type: ignore
    found = find_role("r", book, ["acme.tools", "ansible.legacy"], None, config)
    assert found is not None and found.collection == "acme.tools"  # collections first
    (book / "roles" / "r" / "tasks").rmdir()
    (book / "roles" / "r").rmdir()
    assert find_role("r", book, (), None, config).path == shared / "r"  # type: ignore
    dep_home = tmp_path / "deps"
    (dep_home / "only_here" / "tasks").mkdir(parents=True)
    assert find_role("only_here", book, (), None, config) is None
    assert find_role("only_here", book, (), dep_home, config).path == \
        dep_home / "only_here"  # type: ignore[union-attr]
    assert find_role("../deps/only_here", book, (), None, config).path == \
        book / "../deps/only_here"  # type: ignore[union-attr]
