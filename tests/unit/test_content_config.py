"""ansible.cfg and ANSIBLE_* settings: which file is read, what wins, how values read.

Each case builds its files in a temp folder and passes the environment explicitly, so
the machine's own ~/.ansible.cfg or /etc/ansible never takes part (HOME points into
the temp folder). Where a behaviour is Ansible's, the test says so and, when cheap,
asks ansible-core itself (its config manager) for the same answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyengine.content.ansible_config import find_config_file, load_ansible_config
from pyengine.errors import PlaybookError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def env_with(home: Path, **values: str) -> dict[str, str]:
    return {"HOME": str(home), **values}


def test_first_found_wins_env_then_cwd_then_home(tmp_path: Path, home: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    (home / ".ansible.cfg").write_text("[defaults]\nforks = 3\n")
    assert find_config_file(env_with(home), cwd)[0] == home / ".ansible.cfg"
    (cwd / "ansible.cfg").write_text("[defaults]\nforks = 4\n")
    assert find_config_file(env_with(home), cwd)[0] == cwd / "ansible.cfg"
    other = tmp_path / "other.cfg"
    other.write_text("[defaults]\nforks = 5\n")
    env = env_with(home, ANSIBLE_CONFIG=str(other))
    assert find_config_file(env, cwd)[0] == other
    assert load_ansible_config(env, cwd).forks == 5  # only the first file is read


def test_ansible_config_may_name_a_folder(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "cfgdir"
    folder.mkdir()
    (folder / "ansible.cfg").write_text("[defaults]\nremote_user = deploy\n")
    config = load_ansible_config(env_with(home, ANSIBLE_CONFIG=str(folder)), tmp_path)
    assert config.path == folder / "ansible.cfg"
    assert config.remote_user == "deploy"


def test_world_writable_cwd_is_skipped_with_a_warning(tmp_path: Path, home: Path) -> None:
    cwd = tmp_path / "public"
    cwd.mkdir()
    (cwd / "ansible.cfg").write_text("[defaults]\nforks = 9\n")
    os.chmod(cwd, 0o777)
    path, warnings = find_config_file(env_with(home), cwd)
    assert path is None or path != cwd / "ansible.cfg"
    assert any("world-writable" in w for w in warnings)


def test_environment_beats_the_file(tmp_path: Path, home: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nforks = 7\nremote_user = fromfile\n"
        "[privilege_escalation]\nbecome = true\nbecome_user = admin\n")
    config = load_ansible_config(env_with(home, ANSIBLE_FORKS="12",
                                          ANSIBLE_BECOME_USER="envuser"), tmp_path)
    assert (config.forks, config.remote_user) == (12, "fromfile")
    assert (config.become, config.become_user) == (True, "envuser")
    assert config.origins["forks"] == "$ANSIBLE_FORKS"
    assert config.origins["remote_user"] == f"{tmp_path / 'ansible.cfg'}:3"


def test_paths_relative_to_the_file_env_relative_to_cwd(tmp_path: Path, home: Path) -> None:
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    (cfgdir / "ansible.cfg").write_text(
        "[defaults]\nroles_path = roles:~/shared/roles:/abs/roles\n"
        "inventory = hosts.ini, web1,web2\nprivate_key_file = keys/id\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = env_with(home, ANSIBLE_CONFIG=str(cfgdir / "ansible.cfg"))
    config = load_ansible_config(env, cwd)
    assert config.roles_path == [cfgdir / "roles", home / "shared/roles", Path("/abs/roles")]
    assert config.inventory == [str(cfgdir / "hosts.ini"), "web1", "web2"]
    assert config.private_key_file == str(cfgdir / "keys/id")
    config = load_ansible_config({**env, "ANSIBLE_ROLES_PATH": "r1:$HOME/r2"}, cwd)
    assert config.roles_path == [cwd / "r1", home / "r2"]


def test_defaults_follow_ansible_home(tmp_path: Path, home: Path) -> None:
    config = load_ansible_config(env_with(home), tmp_path)
    assert config.role_paths == [home / ".ansible/roles", Path("/usr/share/ansible/roles"),
                                 Path("/etc/ansible/roles")]
    assert config.collection_paths == [home / ".ansible/collections",
                                       Path("/usr/share/ansible/collections")]
    config = load_ansible_config(env_with(home, ANSIBLE_HOME=str(tmp_path / "ah")), tmp_path)
    assert config.collection_paths[0] == tmp_path / "ah/collections"


def test_ini_values_are_raw_unquoted_and_lose_inline_comments(tmp_path: Path,
                                                              home: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nremote_user = \"ops%user\" ; who logs in\n"
        "[ssh_connection]\nssh_common_args = -o ProxyJump=jump.example\n")
    config = load_ansible_config(env_with(home), tmp_path)
    assert config.remote_user == "ops%user"
    assert config.ssh_common_args == "-o ProxyJump=jump.example"


def test_unused_settings_are_named_one_line_each(tmp_path: Path, home: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nforks = 2\nnocows = 1\nstdout_callback = yaml\n"
        "[ssh_connection]\npipelining = True\n")
    config = load_ansible_config(env_with(home, ANSIBLE_NOCOLOR="1"), tmp_path)
    assert config.warnings == [
        "ansible.cfg line 3: [defaults] nocows is ignored (not used by pyengine)",
        "ansible.cfg line 4: [defaults] stdout_callback is ignored (not used by pyengine)",
        "ansible.cfg line 6: [ssh_connection] pipelining is ignored (pyengine always sends "
        "tasks over one open channel)",
        "$ANSIBLE_NOCOLOR is ignored (not used by pyengine)",
    ]


def test_deprecated_spellings_work_and_warn(tmp_path: Path, home: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\ncollections_paths = c1\n")
    config = load_ansible_config(env_with(home), tmp_path)
    assert config.collections_path == [tmp_path / "c1"]
    assert any("'collections_paths' is deprecated" in w for w in config.warnings)
    config = load_ansible_config(env_with(home, ANSIBLE_COLLECTIONS_PATHS="/x"), tmp_path)
    assert config.collections_path == [Path("/x")]  # the variable beats the file
    assert "$ANSIBLE_COLLECTIONS_PATHS is deprecated in Ansible, use " \
           "$ANSIBLE_COLLECTIONS_PATH" in config.warnings
    config = load_ansible_config(env_with(home, ANSIBLE_COLLECTIONS_PATHS="/x",
                                          ANSIBLE_COLLECTIONS_PATH="/y"), tmp_path)
    assert config.collections_path == [Path("/y")]  # the current spelling wins


@pytest.mark.parametrize("text, message", [
    ("[defaults]\nforks = many\n", ":2: must be a whole number, got 'many'"),
    ("[defaults]\nhost_key_checking = perhaps\n", ":2: must be a boolean"),
    ("[defaults]\nforks = 1\nforks = 2\n", ":3: cannot parse ansible.cfg: While reading"),
    ("forks = 1\n", ":1: cannot parse ansible.cfg: File contains no section headers."),
])
def test_bad_values_are_one_line_errors_with_file_and_line(tmp_path: Path, home: Path,
                                                           text: str, message: str) -> None:
    (tmp_path / "ansible.cfg").write_text(text)
    with pytest.raises(PlaybookError) as err:
        load_ansible_config(env_with(home), tmp_path)
    shown = str(err.value)
    assert shown.startswith(str(tmp_path / "ansible.cfg") + message), shown
    assert "\n" not in shown


def test_bad_environment_value_names_the_variable(tmp_path: Path, home: Path) -> None:
    with pytest.raises(PlaybookError, match=r"\$ANSIBLE_TIMEOUT must be a whole number"):
        load_ansible_config(env_with(home, ANSIBLE_TIMEOUT="soon"), tmp_path)


def test_same_answers_as_ansible_core(tmp_path: Path, home: Path) -> None:
    """ansible-core's own config manager reads the same file and environment."""
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    (cfgdir / "ansible.cfg").write_text(
        "[defaults]\nroles_path = roles:~/r\nforks = 8\ntimeout = 33\n"
        "collections_path = colls\nhost_key_checking = False\nremote_user = 'quoted'\n"
        "[privilege_escalation]\nbecome = yes\nbecome_method = sudo\n")
    env = {"HOME": str(home), "ANSIBLE_CONFIG": str(cfgdir / "ansible.cfg"),
           "ANSIBLE_FORKS": "11", "PATH": os.environ.get("PATH", "")}
    probe = (
        "import json\n"
        "from ansible.config.manager import ConfigManager\n"
        "c = ConfigManager()\n"
        "g = c.get_config_value\n"
        "print(json.dumps({'roles': g('DEFAULT_ROLES_PATH'), 'forks': g('DEFAULT_FORKS'),"
        " 'timeout': g('DEFAULT_TIMEOUT'), 'colls': g('COLLECTIONS_PATHS'),"
        " 'hkc': g('HOST_KEY_CHECKING'), 'user': g('DEFAULT_REMOTE_USER'),"
        " 'become': g('DEFAULT_BECOME'), 'method': g('DEFAULT_BECOME_METHOD')}))\n")
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    import json

    theirs = json.loads(out.strip().splitlines()[-1])
    ours = load_ansible_config(env, tmp_path)
    assert [str(p) for p in ours.role_paths] == theirs["roles"]
    assert [str(p) for p in ours.collection_paths] == theirs["colls"]
    assert (ours.forks, ours.timeout, ours.host_key_checking, ours.remote_user) == (
        theirs["forks"], theirs["timeout"], theirs["hkc"], theirs["user"])
    assert (ours.become, ours.become_method) == (theirs["become"], theirs["method"])
