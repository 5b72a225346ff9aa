"""The Ansible module bridge on the controller and through a real agent on this machine.

Packing (which files an Ansible module needs, found by reading imports), the options read
from DOCUMENTATION, modspec's fallback and PYENGINE_ANSIBLE_MODULES, and the agent running
installed modules (community.general.ini_file, a test collection's modules) in a child
Python through the `local` connection, files only in pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pyengine import modspec
from pyengine.agent.bundle import ANSIBLE, imports_of, native_code, parse_source
from pyengine.agent.session import PythonAgentSession
from pyengine.bridge import module_code
from pyengine.bridge.pack import Packer
from pyengine.connection.local import LocalConnection
from pyengine.content.ansible_modules import missing_message, read_module_doc
from pyengine.content.collections import ansible_core_dir, find_ansible_module
from pyengine.errors import PlaybookError, PyengineError

pytest.importorskip("ansible_collections.community.general", reason="needs `pip install ansible`")

COLL = "collections/ansible_collections/acme/demo/plugins"

# A collection of our own: relative and absolute imports of its module_utils, a helper
# importing another helper (recursion), an optional import that does not exist.
FILES = {
    f"{COLL}/modules/greet.py": '''
        DOCUMENTATION = r"""
        module: greet
        short_description: Write a greeting into a file.
        extends_documentation_fragment: [files]
        options:
          path: {type: path, required: true, aliases: [dest]}
          name: {type: str, default: world}
          token: {type: str}
        """
        import os
        from ansible.module_utils.basic import AnsibleModule
        from ..module_utils.text import greeting
        from ansible_collections.acme.demo.plugins.module_utils import fileio
        try:
            from ansible_collections.acme.demo.plugins.module_utils import not_there
        except ImportError:
            not_there = None

        def main():
            module = AnsibleModule(argument_spec=dict(
                path=dict(type="path", required=True, aliases=["dest"]),
                name=dict(type="str", default="world"), token=dict(type="str", no_log=True)),
                supports_check_mode=True,
                add_file_common_args=True)
            path, wanted = module.params["path"], greeting(module.params["name"])
            before = fileio.read(path)
            if before == wanted:
                module.exit_json(changed=False, msg="greeting already there")
            if not module.check_mode:
                fileio.write(path, wanted)
            module.exit_json(changed=True, msg="greeting written", tmpdir=module.tmpdir,
                             leak=os.environ.get("PYENGINE_SHOULD_NOT_LEAK"),
                             diff={"before": before or "", "after": wanted})

        if __name__ == "__main__":
            main()
    ''',
    f"{COLL}/modules/crash.py": '''
        from ansible.module_utils.basic import AnsibleModule
        import os

        def main():
            module = AnsibleModule(argument_spec={}, supports_check_mode=True)
            os.environ["PYENGINE_SHOULD_NOT_LEAK"] = "1"
            raise RuntimeError("boom from the module")

        if __name__ == "__main__":
            main()
    ''',
    f"{COLL}/modules/facts.py": '''
        DOCUMENTATION = r"""
        module: facts
        short_description: Sets a fact.
        options: {}
        """
        RETURN = r"""
        ansible_facts:
          description: acme_greeting
          returned: always
          type: dict
        """
        from ansible.module_utils.basic import AnsibleModule

        def main():
            module = AnsibleModule(argument_spec={}, supports_check_mode=True)
            module.exit_json(changed=False, ansible_facts={"acme_greeting": "hi there"})

        if __name__ == "__main__":
            main()
    ''',
    f"{COLL}/modules/slow.py": '''
        import os, time
        from ansible.module_utils.basic import AnsibleModule

        def main():
            module = AnsibleModule(argument_spec={"pidfile": {"type": "path"},
                                                  "flag": {"type": "path"}})
            with open(module.params["pidfile"], "w") as fh:
                fh.write(str(os.getpid()))
            for _ in range(600):
                if os.path.exists(module.params["flag"]):
                    break
                time.sleep(0.05)
            module.exit_json(changed=False, msg="done waiting")

        if __name__ == "__main__":
            main()
    ''',
    f"{COLL}/module_utils/text.py": '''
        from ansible_collections.acme.demo.plugins.module_utils.words import HELLO

        def greeting(name):
            return "%s, %s!\\n" % (HELLO, name)
    ''',
    f"{COLL}/module_utils/words.py": 'HELLO = "Hello"\n',
    f"{COLL}/module_utils/fileio.py": '''
        import os

        def read(path):
            if not os.path.exists(path):
                return None
            with open(path) as fh:
                return fh.read()

        def write(path, text):
            with open(path, "w") as fh:
                fh.write(text)
    ''',
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for rel, text in FILES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


@pytest.fixture
def session() -> Any:
    sessions: list[PythonAgentSession] = []

    def make(project_dirs: list[Path]) -> PythonAgentSession:
        s = PythonAgentSession(LocalConnection("localhost"),
                               module_source=lambda name: module_code(name, project_dirs),
                               python=sys.executable)
        s.start()
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def task(module: str, args: dict[str, Any], tid: str = "t", check: bool = False,
         **extra: Any) -> dict[str, Any]:
    return {"id": tid, "module": module, "args": args, "check_mode": check, "diff": True,
            "environment": None, "ignore_errors": True, "no_log": False, **extra}


# -- reading imports ------------------------------------------------------------------


def test_imports_are_made_absolute_and_optional_ones_marked() -> None:
    tree = parse_source(textwrap.dedent('''
        import os
        from . import sibling
        from ..module_utils.x import y
        try:
            import maybe.there
        except ImportError:
            pass
        if TYPE_CHECKING:
            from typing_only import T
        def f():
            from inside.function import g
    '''), "m.py")
    found = {(i.module, i.names, i.optional) for i in imports_of(tree, "a.b.modules")}
    assert ("a.b.modules", ("sibling",), False) in found
    assert ("a.b.module_utils.x", ("y",), False) in found
    assert ("maybe.there", (), True) in found
    assert ("typing_only", ("T",), True) in found
    assert ("inside.function", ("g",), False) in found


# -- packing --------------------------------------------------------------------------


def test_pack_follows_module_utils_of_core_and_collection_recursively(project: Path) -> None:
    module = find_ansible_module("acme.demo.greet", (), project)
    assert module is not None
    code = Packer(project).pack(module)
    assert code.kind == ANSIBLE
    assert code.entry == "ansible_collections.acme.demo.plugins.modules.greet"
    files = set(code.files)
    base = "ansible_collections/acme/demo/plugins"
    # relative import, absolute `from pkg import submodule`, and a helper's own import
    assert {f"{base}/module_utils/text.py", f"{base}/module_utils/fileio.py",
            f"{base}/module_utils/words.py", f"{base}/modules/greet.py"} <= files
    assert f"{base}/module_utils/not_there.py" not in files  # optional, absent: left out
    # parents come along (empty when the collection has no __init__.py)
    for pkg in ("ansible_collections", "ansible_collections/acme", "ansible_collections/acme/demo",
                base, f"{base}/module_utils", f"{base}/modules"):
        assert code.files[f"{pkg}/__init__.py"] == ""
    # ansible-core's side: basic and what it imports, the JSON profiles loaded by name
    assert "ansible/module_utils/basic.py" in files
    assert "ansible/module_utils/common/text/converters.py" in files
    core = ansible_core_dir()
    assert core is not None
    if (core / "module_utils/_internal/_json/_profiles/_module_legacy_m2c.py").is_file():
        assert any(f.endswith("_profiles/_module_legacy_m2c.py") for f in files)
    assert code.files["ansible/__init__.py"].startswith("__version__ = ")
    # nothing from the controller-only side of ansible-core
    assert not any(f.startswith(("ansible/plugins/", "ansible/executor/")) for f in files)


def test_pack_of_a_real_collection_module_takes_its_collection_module_utils() -> None:
    module = find_ansible_module("community.general.decompress")
    assert module is not None
    files = set(Packer().pack(module).files)
    base = "ansible_collections/community/general/plugins/module_utils"
    # decompress -> mh.module_helper -> mh.base/mh.mixin... (several levels down) and `deps`
    assert f"{base}/mh/module_helper.py" in files
    assert f"{base}/mh/base.py" in files
    assert f"{base}/deps.py" in files
    assert "ansible/module_utils/six/__init__.py" in files


def test_pack_of_ansible_posix_mount_takes_its_collection_helper() -> None:
    module = find_ansible_module("ansible.posix.mount")
    assert module is not None
    files = Packer().pack(module).files
    assert "ansible_collections/ansible/posix/plugins/module_utils/mount.py" in files
    assert "ansible/module_utils/parsing/convert_bool.py" in files


def test_native_module_gets_its_module_utils_recursively(tmp_path: Path) -> None:
    utils = tmp_path / "modules" / "module_utils"
    utils.mkdir(parents=True)
    (utils / "a.py").write_text("from module_utils.b import B\nA = B + 1\n")
    (utils / "b.py").write_text("B = 1\n")
    code = native_code("from module_utils import a\ndef main(m):\n    return {}\n", "x",
                       [utils])
    assert set(code.files) == {"module_utils/__init__.py", "module_utils/a.py",
                               "module_utils/b.py"}
    with pytest.raises(PyengineError, match="imports module_utils.nope"):
        native_code("import module_utils.nope\n", "x", [utils])


def test_builtin_command_and_lineinfile_ship_their_helpers() -> None:
    assert "module_utils/commands.py" in module_code("shell").files
    assert "module_utils/textfile.py" in module_code("blockinfile").files


# -- documentation, modspec fallback, forcing --------------------------------------------


def test_options_come_from_documentation_and_its_fragments(project: Path) -> None:
    doc = read_module_doc(project / COLL / "modules" / "greet.py", project)
    assert doc.complete
    assert doc.options["path"]["aliases"] == ["dest"]
    assert {"name", "mode", "owner", "group"} <= set(doc.options)  # `files` fragment


def test_modspec_falls_back_to_installed_modules_and_checks_argument_names(
        project: Path) -> None:
    spec = modspec.find_module("acme.demo.greet", [project])
    assert spec is not None and spec.kind == modspec.ANSIBLE
    assert spec.name == "acme.demo.greet"
    args, errors = modspec.validate_args(spec, {"dest": "/x", "nmae": "y", "mode": "0644"})
    assert [str(e) for e in errors] == ["unsupported argument 'nmae' for module "
                                        "'acme.demo.greet' (did you mean 'name'?)"]
    assert spec.secret_values({"path": "/x", "token": "abc"}) == ["abc"]  # argument_spec
    # types are the module's business on the target: nothing is converted here
    args, errors = modspec.validate_args(spec, {"path": "/x", "mode": 644})
    assert not errors and args["mode"] == 644


def test_native_first_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYENGINE_ANSIBLE_MODULES", raising=False)
    native = modspec.find_module("community.general.ini_file")
    if native is not None and native.kind == "module":
        assert native.name == "ini_file"
    monkeypatch.setenv("PYENGINE_ANSIBLE_MODULES", "community.general.ini_file, ansible.posix.*")
    forced = modspec.find_module("community.general.ini_file")
    assert forced is not None and forced.kind == modspec.ANSIBLE
    assert forced.name == "community.general.ini_file"
    mount = modspec.find_module("ansible.posix.mount")
    assert mount is not None and mount.kind == modspec.ANSIBLE
    copy = modspec.find_module("ansible.builtin.copy")  # not listed: stays native
    assert copy is not None and copy.kind == "module"


def test_a_module_found_nowhere_says_what_to_install(project: Path) -> None:
    assert missing_message("acme.nothere.thing", project) == (
        "module acme.nothere.thing not found: install the collection acme.nothere "
        "(pip install ansible, or ansible-galaxy collection install acme.nothere)")
    message = missing_message("acme.demo.nothing", project)
    assert message is not None and message.startswith(
        "module acme.demo.nothing not found in the installed collection acme.demo")
    assert missing_message("notanfqcn", project) is None


def test_a_module_that_needs_its_action_plugin_is_refused_at_load_time() -> None:
    spec = modspec.find_module("ansible.builtin.unarchive")
    assert spec is not None and spec.kind == modspec.ANSIBLE
    _, errors = modspec.validate_args(spec, {"src": "a.tgz", "dest": "/opt"})
    assert errors and "action plugin" in str(errors[0])


def test_uri_is_refused_only_with_controller_files() -> None:
    spec = modspec.find_module("ansible.builtin.uri")
    assert spec is not None and spec.kind == modspec.ANSIBLE
    assert not modspec.validate_args(spec, {"url": "http://127.0.0.1/"})[1]
    assert not modspec.validate_args(spec, {"url": "http://127.0.0.1/", "src": "/tmp/b",
                                            "remote_src": "yes"})[1]
    _, errors = modspec.validate_args(spec, {"url": "http://127.0.0.1/", "src": "b.json"})
    assert errors and "`src` from the controller" in str(errors[0])


def test_playbook_load_error_names_the_collection_to_install(tmp_path: Path) -> None:
    from pyengine.playbook import load_playbook

    book = tmp_path / "site.yml"
    book.write_text("- hosts: all\n  tasks:\n    - acme.nothere.thing: {a: 1}\n")
    with pytest.raises(PlaybookError) as err:
        load_playbook(book)
    assert "site.yml:3:7: module acme.nothere.thing not found: install the collection " \
        "acme.nothere" in str(err.value)


# -- through a real agent (local connection) ------------------------------------------


def test_bridged_module_runs_under_the_contract_check_mode_then_idempotent(
        project: Path, session: Any) -> None:
    s = session([project])
    target = project / "greeting.txt"
    checked = s.run_all([task("acme.demo.greet", {"dest": str(target), "name": "lab"},
                              check=True)])[0]["result"]
    assert checked["changed"] and not checked["failed"], checked
    assert not target.exists()  # check mode changed nothing
    first = s.run_all([task("acme.demo.greet", {"dest": str(target), "name": "lab"})])
    result = first[0]["result"]
    assert result["changed"] and result["msg"] == "greeting written"
    assert result["diff"] == {"before": "", "after": "Hello, lab!\n"}
    assert result["invocation"]["module_args"]["path"] == str(target)  # alias resolved
    assert target.read_text() == "Hello, lab!\n"
    again = s.run_all([task("acme.demo.greet", {"path": str(target), "name": "lab"})])
    assert not again[0]["result"]["changed"]
    assert again[0]["result"]["msg"] == "greeting already there"


def test_pack_travels_once_and_native_and_bridged_share_one_round_trip(
        project: Path, session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = session([project])
    sent: list[dict[str, Any]] = []
    real_send = s._send

    def spy(message: dict[str, Any]) -> None:
        sent.append(message)
        real_send(message)

    monkeypatch.setattr(s, "_send", spy)
    target = project / "both.txt"
    before = s.round_trips
    results = s.run_all([
        task("file", {"path": str(target), "state": "touch"}, "1"),
        task("acme.demo.greet", {"path": str(target)}, "2"),
        task("shell", {"cmd": f"cat {target}"}, "3"),
    ])
    assert s.round_trips == before + 1  # one exchange for all three
    assert [r["result"].get("failed") for r in results] == [False, False, False]
    assert results[2]["result"]["stdout"] == "Hello, world!"
    first = sent[-1]
    assert first["libs"] == {"ansible_run": first["libs"]["ansible_run"]}
    assert len(first["files"]) > 20  # basic.py and friends, the collection's helpers
    s.run_all([task("acme.demo.greet", {"path": str(target), "name": "x"}, "4")])
    second = sent[-1]
    assert "files" not in second and "libs" not in second and second["modules"] == {}


def test_shared_module_utils_files_are_sent_once_for_two_modules(
        project: Path, session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = session([project])
    sent: list[dict[str, Any]] = []
    real_send = s._send
    monkeypatch.setattr(s, "_send", lambda m: (sent.append(m), real_send(m)))
    s.run_all([task("acme.demo.greet", {"path": str(project / "g.txt")})])
    s.run_all([task("acme.demo.crash", {}, "c")])
    basic_sha = sent[0]["modules"]["acme.demo.greet"]["files"]["ansible/module_utils/basic.py"]
    assert basic_sha in sent[0]["files"]
    assert sent[1]["modules"]["acme.demo.crash"]["files"]["ansible/module_utils/basic.py"] \
        == basic_sha
    assert basic_sha not in sent[1].get("files", {})


def test_a_crashing_module_fails_its_task_and_the_agent_goes_on(
        project: Path, session: Any) -> None:
    s = session([project])
    results = s.run_all([task("acme.demo.crash", {}, "1"),
                         task("acme.demo.greet", {"path": str(project / "after.txt")}, "2"),
                         task("shell", {"cmd": "echo ${PYENGINE_SHOULD_NOT_LEAK:-clean}"}, "3")])
    crash = results[0]["result"]
    assert crash["failed"] and not crash["changed"]
    assert "boom from the module" in json.dumps(crash)
    assert results[1]["result"]["changed"]  # same agent, next task
    assert results[1]["result"]["leak"] is None  # each module runs in its own process
    # The module changed os.environ in its own process, not in the agent's.
    assert results[2]["result"]["stdout"] == "clean"


def test_unknown_argument_is_refused_by_the_module_itself_too(
        project: Path, session: Any) -> None:
    s = session([project])
    result = s.run_all([task("acme.demo.greet", {"path": str(project / "x"), "bogus": 1})])
    assert result[0]["result"]["failed"]
    assert "bogus" in result[0]["result"]["msg"]


def test_installed_community_general_ini_file_twice_and_in_check_mode(
        tmp_path: Path, session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENGINE_ANSIBLE_MODULES", "community.general.ini_file")
    s = session([tmp_path])
    ini = tmp_path / "app.ini"
    args = {"path": str(ini), "section": "main", "option": "level", "value": "3"}
    checked = s.run_all([task("community.general.ini_file", args, check=True)])[0]["result"]
    assert checked["changed"] and not ini.exists()
    first = s.run_all([task("community.general.ini_file", args)])[0]["result"]
    assert first["changed"] and ini.read_text() == "\n[main]\nlevel = 3\n"
    second = s.run_all([task("community.general.ini_file", args)])[0]["result"]
    assert not second["changed"] and not second["failed"]


def test_diff_is_only_returned_when_asked(tmp_path: Path, session: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENGINE_ANSIBLE_MODULES", "community.general.ini_file")
    s = session([tmp_path])
    args = {"path": str(tmp_path / "d.ini"), "section": "s", "option": "o", "value": "v"}
    result = s.run_all([task("community.general.ini_file", args, diff=False)])[0]["result"]
    assert result["changed"] and "diff" not in result


def test_nothing_is_left_in_the_temp_folder(project: Path, session: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = project / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the agent (a child of this process) uses it
    s = session([project])
    results = s.run_all([task("acme.demo.greet", {"path": str(project / "t.txt")}),
                         task("acme.demo.crash", {}, "2")])
    assert results[0]["result"]["tmpdir"].startswith(str(tmp))  # the module used one there
    assert list(tmp.iterdir()) == []


def test_a_library_module_beside_the_playbook_is_packed_from_its_own_file(
        tmp_path: Path, session: Any) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "hello_lib.py").write_text(textwrap.dedent('''
        from ansible.module_utils.basic import AnsibleModule

        def main():
            module = AnsibleModule(argument_spec={"who": {"type": "str"}})
            module.exit_json(changed=False, msg="hi " + module.params["who"])

        if __name__ == "__main__":
            main()
    '''))
    spec = modspec.find_module("hello_lib", [tmp_path])
    assert spec is not None and spec.kind == modspec.ANSIBLE
    code = module_code("hello_lib", [tmp_path])
    assert "main()" in code.files["ansible/modules/hello_lib.py"]
    s = session([tmp_path])
    result = s.run_all([task("hello_lib", {"who": "lab"})])[0]["result"]
    assert result["msg"] == "hi lab" and not result["failed"]


def test_only_the_contract_keys_the_installed_ansible_core_knows_are_sent(
        project: Path) -> None:
    from pyengine.agent.ansible_run import module_args

    module = find_ansible_module("acme.demo.greet", (), project)
    assert module is not None
    meta = Packer(project).pack(module).meta
    assert {"check_mode", "diff", "no_log", "tmpdir", "remote_tmp", "version"} <= set(
        meta["pass_vars"])
    sent = module_args({"path": "/x"}, meta, True, False, True, "/tmp/t")
    assert sent["_ansible_check_mode"] is True and sent["_ansible_no_log"] is True
    assert sent["_ansible_tmpdir"] == sent["_ansible_remote_tmp"] == "/tmp/t"
    assert sent["_ansible_module_name"] == "acme.demo.greet"
    assert {k[len("_ansible_"):] for k in sent if k.startswith("_ansible_")} <= set(
        meta["pass_vars"])
    older = module_args({}, dict(meta, pass_vars=["check_mode", "diff"]), False, True,
                        False, "/t")
    assert older == {"_ansible_check_mode": False, "_ansible_diff": True}


def test_facts_of_a_bridged_module_are_there_for_the_next_task(project: Path) -> None:
    from pyengine.executor.contracts import RunOptions
    from pyengine.executor.run import run_playbook
    from pyengine.executor.sources import InventorySources
    from pyengine.inventory import load_inventory
    from pyengine.playbook import load_playbook
    from pyengine.vars import VariableManager

    (project / "inv.ini").write_text(f"h ansible_connection=local "
                                     f"ansible_python_interpreter={sys.executable}\n")
    (project / "site.yml").write_text(textwrap.dedent(f"""
        - hosts: all
          gather_facts: false
          tasks:
            - acme.demo.facts:
            - copy: {{content: "{{{{ acme_greeting }}}}", dest: "{project}/out.txt"}}
        """))
    playbook = load_playbook(project / "site.yml")
    inventory = load_inventory(project / "inv.ini", playbook_dir=project)
    sources = InventorySources(inventory, VariableManager(inventory, {}))
    sources.set_playbook_dir(project)  # as `pyengine run` does
    result = run_playbook(playbook, sources, RunOptions())
    host = result.hosts["h"]
    assert [t.status for t in host.tasks] == ["ok", "changed"], [t.result for t in host.tasks]
    assert (project / "out.txt").read_text() == "hi there"
    assert host.batches == [1, 1]  # the facts module ends its batch: its facts are unknown


def test_the_warm_process_ends_with_the_agent(project: Path) -> None:
    s = PythonAgentSession(LocalConnection("localhost"),
                           module_source=lambda name: module_code(name, [project]),
                           python=sys.executable)
    s.start()
    s.run_all([task("acme.demo.greet", {"path": str(project / "w.txt")})])
    agent = s.agent_pid
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                and _ppid(p) == agent]
    assert children, "the bridge's zygote runs beside the agent"
    s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _ppid(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["eof", "sigterm"])
def test_agent_stopped_mid_module_leaves_no_process_and_no_files(
        project: Path, how: str) -> None:
    tmp = project / "agent-tmp"
    tmp.mkdir()
    conn = LocalConnection("drop", {"env": {"TMPDIR": str(tmp)}})
    s = PythonAgentSession(conn, module_source=lambda name: module_code(name, [project]),
                           python=sys.executable)
    s.start()
    pidfile, flag = project / "pid", project / "flag"
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            s.run_all([task("acme.demo.slow", {"pidfile": str(pidfile), "flag": str(flag)})])
        except BaseException as err:  # noqa: B036 - the test looks at it
            errors.append(err)

    runner = threading.Thread(target=consume)
    runner.start()
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    module_pid = int(pidfile.read_text())
    assert _alive(module_pid) and len(list(tmp.iterdir())) == 1  # the task's temp folder
    channel = s._channel
    assert channel is not None
    if how == "eof":
        channel.proc.stdin.close()  # type: ignore[attr-defined]
        flag.write_text("go")  # the module ends; its result meets a closed channel
    else:
        os.kill(channel.pid, signal.SIGTERM)  # type: ignore[attr-defined]
    assert channel.exit_status(10) is not None
    runner.join(10)
    deadline = time.monotonic() + 5
    while _alive(module_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(module_pid)
    assert list(tmp.iterdir()) == []
    conn.close()
