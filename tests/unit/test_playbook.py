"""Loading a real-world shaped project: plays, roles, blocks, imports and includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.playbook import load_include, load_playbook, load_tasks_file, walk
from pyengine.playbook.model import Block, Playbook, Task

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"


@pytest.fixture(scope="module")
def site() -> Playbook:
    return load_playbook(PROJECT / "site.yml")


def summary(items: list) -> list[tuple[str | None, str]]:  # type: ignore[type-arg]
    return [(t.name, t.action) for t in walk(items)]


def test_import_playbook_expands_in_order_with_tags(site: Playbook) -> None:
    assert [p.name for p in site.plays] == ["Configure web servers", "Database servers"]
    web, db = site.plays
    assert web.basedir == PROJECT and web.hosts == "webservers"
    assert db.hosts == "dbservers:&prod" and db.tags == {"db"}
    assert all("db" in t.tags for t in walk(db.tasks))
    assert db.gather_facts is False and web.gather_facts is True


def test_play_keywords(site: Playbook) -> None:
    web = site.plays[0]
    assert web.serial == [1, "30%"] and web.max_fail_percentage == 20.0
    assert web.become.become is True
    assert web.vars == {"app_root": "/srv/shop", "app_user": "{{ nginx_user }}"}
    assert web.vars_files == ["vars/common.yml", [
        "vars/{{ ansible_os_family | default('Debian') }}.yml", "vars/default.yml"]]


def test_roles_expand_with_dependencies_once_and_role_set(site: Playbook) -> None:
    web = site.plays[0]
    assert summary(web.roles) == [
        ("Install common packages", "apt"), ("Configure chrony", "template"),
        ("Admin users", "user"),  # import_tasks inside the role, inlined
        ("Install nginx", "apt"), ("Write nginx.conf", "template"), ("Enable nginx", "service")]
    roles = [t.role.name for t in walk(web.roles) if t.role]
    assert roles == ["common"] * 3 + ["nginx"] * 3  # common (a dependency of nginx) runs once
    assert [r.name for r in web.role_refs] == ["common", "nginx"]
    common, nginx = web.role_refs
    assert common.defaults["common_packages"] == ["vim", "curl", "chrony"]
    assert common.vars == {"chrony_conf": "/etc/chrony/chrony.conf"}
    assert common.path == PROJECT / "roles" / "common"
    assert nginx.params == {"nginx_listen_port": "{{ http_port }}"}
    nginx_tasks = walk(web.roles)[3:]
    assert all(t.tags == {"nginx"} and t.become.become is True for t in nginx_tasks)
    admin_users = walk(web.roles)[2]
    assert admin_users.loop == "{{ users_admins | default([]) }}"
    assert admin_users.origin.file == str(PROJECT / "roles" / "common" / "tasks" / "users.yml")


def test_task_forms_and_keywords(site: Playbook) -> None:
    web = site.plays[0]
    pre = web.pre_tasks[0]
    assert isinstance(pre, Task)
    assert (pre.action, pre.args) == ("apt", {"update_cache": True, "cache_valid_time": 3600})
    assert pre.when == ['ansible_os_family == "Debian"']
    assert pre.origin.line == 16 and pre.origin.column == 7
    tasks = walk(web.tasks)
    by_name = {t.name: t for t in tasks}
    deploy = by_name["Deploy application config"]
    assert deploy.action == "template" and deploy.notify == ["reload nginx"]
    assert deploy.args["mode"] == "0640"
    folders = by_name["Make sure app folders exist"]
    assert folders.args == {"path": "{{ app_root }}/{{ item }}", "state": "directory",
                            "mode": "0755"}
    assert folders.loop == ["releases", "shared", "shared/log"]
    health = by_name["Check the app answers"]
    assert health.args == {"_raw_params": "curl -fsS http://localhost:{{ http_port }}/health"}
    assert health.register == "health" and health.changed_when == ["False"]
    assert health.failed_when == ["health.rc != 0 and 'maintenance' not in health.stdout"]
    assert (health.retries, health.delay, health.until) == (5, 2, ["health is succeeded"])
    project_module = by_name["Application settings"]
    assert project_module.action == "app_config"
    firewall = [t for t in tasks if t.name and t.name.startswith("Allow")]
    assert [t.tags for t in firewall] == [{"firewall"}, {"firewall"}]
    assert firewall[0].args == {"_raw_params": "ufw allow {{ http_port }}/tcp",
                                "creates": "/etc/ufw/.configured"}


def test_blocks_keep_rescue_and_always_and_pass_down_keywords(site: Playbook) -> None:
    block = next(b for b in site.plays[0].tasks if isinstance(b, Block))
    assert block.name == "Configure and report" and block.origin.line == 51
    assert summary(block.block) == [("Set the motd", "copy"), (None, "include_tasks")]
    assert summary(block.rescue) == [("Say it failed", "debug")]
    assert summary(block.always) == [(None, "debug")]
    for task in walk([block]):
        assert task.when == ["health is defined"] and task.tags == {"motd"}
        assert task.become.become is True
    include = block.block[1]
    assert isinstance(include, Task)
    assert include.args == {"file": "tasks/hardening.yml"}
    assert include.vars == {"hardening_level": 2}


def test_handlers_from_roles_and_play(site: Playbook) -> None:
    handlers = site.plays[0].handlers
    assert [(h.name, h.role.name if h.role else None) for h in handlers] == [
        ("restart chrony", "common"), ("restart sshd", "common"),
        ("restart nginx", "nginx"), ("reload nginx", None)]
    assert handlers[-1].listen == ["web config changed"] and handlers[-1].is_handler


def test_with_items_becomes_loop(site: Playbook) -> None:
    from pyengine.templating import Templar

    tune = walk(site.plays[1].tasks)[1]
    assert tune.loop == {"lookup": "items", "terms": "{{ extra_conf_files | default([]) }}"}
    assert Templar({"extra_conf_files": [["a"], "b"]}).render(tune.loop) == ["a", "b"]
    assert Templar({}).render(tune.loop) == []


def test_include_tasks_loads_at_run_time_with_inherited_keywords(site: Playbook) -> None:
    web = site.plays[0]
    block = next(b for b in web.tasks if isinstance(b, Block))
    include = block.block[1]
    assert isinstance(include, Task)
    tasks = load_include(include, "tasks/hardening.yml", web)
    assert summary(tasks) == [("Harden sshd", "lineinfile")]
    harden = tasks[0]
    assert isinstance(harden, Task)
    assert harden.vars == {"hardening_level": 2} and harden.become.become is True
    assert harden.when == []  # the include's own condition is evaluated once, on the include


def test_load_tasks_file_public_api() -> None:
    tasks = load_tasks_file(PROJECT / "tasks" / "firewall.yml", basedir=PROJECT)
    assert summary(tasks) == [("Allow HTTP", "command"), ("Allow HTTPS", "command")]


def test_inline_forms_action_and_local_action(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n"
        "  tasks:\n"
        "    - action: copy src=a.txt dest=/tmp/a.txt\n"
        "    - local_action:\n"
        "        module: command\n"
        "        cmd: date\n"
        "    - shell: echo 'hello world' | tr a-z A-Z\n"
        "      args:\n"
        "        chdir: /tmp\n"
        "    - meta: flush_handlers\n"
        "    - name: dict loop\n"
        "      debug: msg={{ item.key }}\n"
        "      with_dict: '{{ users }}'\n"
        "    - set_fact:\n"
        "        anything: 1\n"
        "        goes: 2\n")
    play = load_playbook(tmp_path / "p.yml").plays[0]
    tasks = walk(play.tasks)
    assert (tasks[0].action, tasks[0].args) == ("copy", {"src": "a.txt", "dest": "/tmp/a.txt"})
    assert (tasks[1].action, tasks[1].args, tasks[1].delegate_to) == (
        "command", {"cmd": "date"}, "localhost")
    assert tasks[2].args == {"_raw_params": "echo 'hello world' | tr a-z A-Z", "chdir": "/tmp"}
    assert (tasks[3].action, tasks[3].args) == ("meta", {"_raw_params": "flush_handlers"})
    assert tasks[4].loop == {"lookup": "dict", "terms": "{{ users }}"}
    assert tasks[5].args == {"anything": 1, "goes": 2}


def test_environment_and_become_inherit_innermost_wins(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n"
        "  become: yes\n"
        "  become_user: root\n"
        "  environment: {LANG: C, http_proxy: 'http://proxy:3128'}\n"
        "  tasks:\n"
        "    - block:\n"
        "        - command: id\n"
        "          become_user: postgres\n"
        "          environment: {LANG: de_DE.UTF-8}\n"
        "        - command: id\n"
        "          environment: '{{ proxy_env }}'\n"
        "      become: false\n"
        "      vars: {a: 1}\n"
        "      ignore_errors: true\n")
    first, second = walk(load_playbook(tmp_path / "p.yml").plays[0].tasks)
    assert (first.become.become, first.become.user) == (False, "postgres")
    assert first.environment == {"LANG": "de_DE.UTF-8", "http_proxy": "http://proxy:3128"}
    assert second.environment == "{{ proxy_env }}"
    assert first.vars == {"a": 1} and first.ignore_errors is True


def test_templated_serial_and_max_fail_percentage_stay_templates(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n"
        "  serial: \"{{ patch_serial | default('100%') }}\"\n"
        "  max_fail_percentage: \"{{ patch_max_fail | default(0) }}\"\n"
        "  tasks: []\n")
    play = load_playbook(tmp_path / "p.yml").plays[0]
    assert play.serial == ["{{ patch_serial | default('100%') }}"]
    assert play.max_fail_percentage == "{{ patch_max_fail | default(0) }}"


def test_task_connection_local_runs_on_the_controller(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks:\n"
                                    "    - command: date\n      connection: local\n")
    task = load_playbook(tmp_path / "p.yml").plays[0].tasks[0]
    assert isinstance(task, Task) and task.delegate_to == "localhost"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_role_duplicates_params_when_tags_and_defaults_folder(tmp_path: Path) -> None:
    write(tmp_path, {
        "roles/app/tasks/main.yml": "- command: echo {{ app_name }}\n",
        "roles/app/defaults/main/10-base.yml": "app_name: base\napp_port: 1\n",
        "roles/app/defaults/main/20-site.yml": "app_port: 2\n",
        "roles/once/tasks/main.yml": "- command: echo once\n",
        "roles/many/tasks/main.yml": "- command: echo many\n",
        "roles/many/meta/main.yml": "allow_duplicates: true\n",
        "p.yml": "- hosts: all\n  roles:\n"
                 "    - {role: app, app_name: one, when: go, tags: [a]}\n"
                 "    - {role: app, app_name: two}\n"
                 "    - once\n    - once\n    - many\n    - many\n",
    })
    play = load_playbook(tmp_path / "p.yml").plays[0]
    tasks = walk(play.roles)
    assert [t.args["_raw_params"] for t in tasks] == [
        "echo {{ app_name }}", "echo {{ app_name }}", "echo once", "echo many", "echo many"]
    first, second = tasks[0], tasks[1]
    assert first.role is not None and second.role is not None
    assert (first.role.params, second.role.params) == ({"app_name": "one"}, {"app_name": "two"})
    assert first.when == ["go"] and first.tags == {"a"}
    assert second.when == [] and second.tags == set()
    assert first.role.defaults == {"app_name": "base", "app_port": 2}


def test_role_dependency_cycle_is_reported(tmp_path: Path) -> None:
    from pyengine.errors import PlaybookErrors

    write(tmp_path, {
        "roles/a/tasks/main.yml": "- command: echo a\n",
        "roles/a/meta/main.yml": "dependencies: [{role: b, x: 1}]\n",
        "roles/b/tasks/main.yml": "- command: echo b\n",
        "roles/b/meta/main.yml": "dependencies: [{role: a, y: 2}]\n",
        "p.yml": "- hosts: all\n  roles: [a]\n",
    })
    with pytest.raises(PlaybookErrors, match="role dependency cycle: a -> b -> a"):
        load_playbook(tmp_path / "p.yml")


def test_builtin_roles_are_found(tmp_path: Path) -> None:
    from pyengine.content.roles import find_role
    from pyengine.paths import builtin_roles_dir

    builtin = sorted(d.name for d in builtin_roles_dir().iterdir() if (d / "tasks").is_dir())
    if not builtin:
        pytest.skip("no built-in role shipped yet")
    found = find_role(builtin[0], tmp_path)
    assert found is not None and found.path == builtin_roles_dir() / builtin[0]
    (tmp_path / "roles" / builtin[0] / "tasks").mkdir(parents=True)
    found = find_role(builtin[0], tmp_path)
    assert found is not None and found.path == tmp_path / "roles" / builtin[0]  # project first


def test_vault_values_in_playbooks_and_vars_files_are_decrypted_and_masked(
        tmp_path: Path) -> None:
    from pyengine.masking import clear_secrets, mask
    from pyengine.vault import VaultLib, VaultSecret

    vault = VaultLib([VaultSecret("default", b"pw")])
    inline = vault.encrypt(b"db-pass-9876").decode().replace("\n", "\n      ")
    (tmp_path / "secrets.yml").write_bytes(vault.encrypt(b"api_key: key-abcdef\n"))
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  vars_files: [secrets.yml]\n  vars:\n"
        f"    db_password: !vault |\n      {inline}\n  tasks: []\n")
    clear_secrets()
    play = load_playbook(tmp_path / "p.yml", vault=vault).plays[0]
    assert play.vars["db_password"] == "db-pass-9876"
    from pyengine.inventory import load_inventory
    from pyengine.vars import VariableManager

    variables = VariableManager(load_inventory("h1,"), vault=vault).get_vars("h1", play)
    assert variables["api_key"] == "key-abcdef"
    assert mask("db-pass-9876 key-abcdef") == "******** ********"


def test_more_with_loops_become_loop(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {command: 'echo {{ item }}', with_sequence: 'start=1 end=3 format=web%02d'}\n"
        "    - {command: 'echo {{ item }}', with_sequence: 'count=2'}\n"
        "    - {command: 'echo {{ item }}', with_fileglob: ['conf.d/*.conf']}\n"
        "    - {command: 'echo {{ item }}', with_first_found: ['a.yml', '{{ os }}.yml']}\n"
        "    - {command: 'echo {{ item }}', with_together: ['{{ a }}', '{{ b }}']}\n"
        "    - {command: 'echo {{ item }}', with_nested: [[1, 2], ['x']]}\n"
        "    - {command: 'echo {{ item }}', with_subelements: ['{{ users }}', keys]}\n")
    from pyengine.templating import Templar

    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "x.conf").write_text("")
    (tmp_path / "deb.yml").write_text("")
    loops = [t.loop for t in walk(load_playbook(tmp_path / "p.yml").plays[0].tasks)]
    templar = Templar({"os": "deb", "a": [1, 2], "b": ["x"],
                       "users": [{"n": "u", "keys": ["k1", "k2"]}]}, [tmp_path])
    assert [templar.render(loop) for loop in loops] == [
        ["web01", "web02", "web03"], ["1", "2"],
        [str(tmp_path / "conf.d" / "x.conf")],
        [str(tmp_path / "deb.yml")],
        [[1, "x"], [2, None]],
        [[1, "x"], [2, "x"]],
        [[{"n": "u"}, "k1"], [{"n": "u"}, "k2"]],  # the pair lacks the sub-list (Ansible)
    ]


def test_ignored_keywords_are_warned_about_with_their_location(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  strategy: free\n  remote_user: admin\n  tasks:\n"
        "    - command: apt-get -y dist-upgrade\n      async: 3600\n      poll: 0\n"
        "    - command: id\n      poll: 5\n")
    book = load_playbook(tmp_path / "p.yml")
    assert book.warnings == [
        f"{tmp_path}/p.yml:2:3: 'strategy' is accepted but ignored: pyengine runs the linear "
        "strategy",
        f"{tmp_path}/p.yml:6:7: 'async' is accepted but ignored: tasks run to completion (no "
        "background jobs)",
        f"{tmp_path}/p.yml:7:7: 'poll' is accepted but ignored: tasks run to completion (no "
        "background jobs)"]
    assert book.plays[0].remote_user == "admin"


def test_import_tasks_in_handlers_imports_handlers(tmp_path: Path) -> None:
    write(tmp_path, {
        "handlers/web.yml": "- name: reload web\n  command: echo reload\n",
        "p.yml": "- hosts: all\n  tasks:\n    - command: echo hi\n      notify: reload web\n"
                 "  handlers:\n    - import_tasks: handlers/web.yml\n",
    })
    play = load_playbook(tmp_path / "p.yml").plays[0]
    assert [(h.name, h.is_handler) for h in play.handlers] == [("reload web", True)]
