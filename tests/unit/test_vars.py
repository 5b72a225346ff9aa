"""Variable precedence over a real-world project, rendered the way the executor renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.errors import PlaybookError
from pyengine.inventory import load_inventory
from pyengine.playbook import load_playbook, walk
from pyengine.playbook.model import Play, Task
from pyengine.templating import Templar
from pyengine.vars import VariableManager

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"
WEB01, WEB02 = "web01.acme.example", "web02.acme.example"


@pytest.fixture(scope="module")
def play() -> Play:
    return load_playbook(PROJECT / "webservers.yml").plays[0]


@pytest.fixture()
def vm() -> VariableManager:
    return VariableManager(load_inventory(PROJECT / "inventory" / "production"))


def nginx_task(play: Play) -> Task:
    return next(t for t in walk(play.roles) if t.name == "Write nginx.conf")


def value(vm: VariableManager, host: str, play: Play, task: Task | None, name: str,
          **kw: object) -> object:
    variables = vm.get_vars(host, play, task, **kw)  # type: ignore[arg-type]
    return Templar(variables).render("{{ " + name + " }}")


def test_role_defaults_lose_to_inventory_and_vars_files(vm, play) -> None:  # type: ignore[no-untyped-def]
    task = nginx_task(play)
    # nginx defaults say 'nginx'; the play's vars_files say 'www-data'
    assert value(vm, WEB02, play, task, "nginx_user") == "www-data"
    # nginx defaults 'auto' < [webservers:vars] 4 < host_vars/web01 16
    assert value(vm, WEB02, play, task, "nginx_worker_processes") == 4
    assert value(vm, WEB01, play, task, "nginx_worker_processes") == 16
    # common defaults UTC < inventory group_vars/all < playbook group_vars/all
    assert value(vm, WEB02, play, task, "timezone") == "Europe/Berlin"


def test_role_params_and_lazy_rendering(vm, play) -> None:  # type: ignore[no-untyped-def]
    task = nginx_task(play)
    assert value(vm, WEB01, play, task, "nginx_listen_port") == 9090  # "{{ http_port }}"
    assert value(vm, WEB02, play, task, "nginx_listen_port") == 80
    assert value(vm, WEB02, play, None, "app_user") == "www-data"  # play var -> vars_files


def test_vars_files_names_are_templates_rendered_with_facts(vm, play) -> None:  # type: ignore[no-untyped-def]
    debian = {"os_family": "Debian", "distribution": "Debian"}
    redhat = {"os_family": "RedHat"}
    assert value(vm, WEB02, play, None, "package_manager", facts=debian) == "apt"
    vm2 = VariableManager(vm.inventory)
    assert value(vm2, WEB02, play, None, "package_manager", facts=redhat) == "unknown"
    assert value(vm, WEB02, play, None, "ansible_distribution", facts=debian) == "Debian"
    assert value(vm, WEB02, play, None, "ansible_facts.os_family", facts=debian) == "Debian"


def test_runtime_role_vars_task_vars_and_extra_vars(play) -> None:  # type: ignore[no-untyped-def]
    inv = load_inventory(PROJECT / "inventory" / "production")
    task = nginx_task(play)
    common_task = walk(play.roles)[1]
    vm = VariableManager(inv, extra_vars={"http_port": 1})
    assert value(vm, WEB02, play, common_task, "chrony_conf") == "/etc/chrony/chrony.conf"
    # extra vars beat host_vars and flow into role params that reference them
    assert value(vm, WEB01, play, task, "nginx_listen_port") == 1
    # set_fact/registered beat play vars but not role params or extra vars
    runtime = {"app_root": "/opt/shop", "nginx_listen_port": 5, "http_port": 7,
               "out": {"stdout": "{{ not_rendered }}"}}
    assert value(vm, WEB02, play, task, "app_root", runtime=runtime) == "/opt/shop"
    assert value(vm, WEB02, play, task, "nginx_listen_port", runtime=runtime) == 1
    assert value(vm, WEB02, play, task, "out.stdout", runtime=runtime) == "{{ not_rendered }}"
    block = next(b for b in play.tasks if not isinstance(b, Task))
    include = block.block[1]  # type: ignore[union-attr]
    assert value(vm, WEB02, play, include, "hardening_level") == 2


def test_magic_variables(vm, play) -> None:  # type: ignore[no-untyped-def]
    variables = vm.get_vars(WEB02, play, nginx_task(play))
    assert variables["inventory_hostname"] == WEB02
    assert variables["inventory_hostname_short"] == "web02"
    assert variables["group_names"] == ["frontend", "prod", "webservers"]
    assert variables["groups"]["loadbalancers"] == ["lb1.acme.example"]
    assert variables["role_name"] == "nginx"
    assert variables["role_path"] == str(PROJECT / "roles" / "nginx")
    assert variables["playbook_dir"] == str(PROJECT)


def test_origins_say_which_file_set_each_value(vm, play) -> None:  # type: ignore[no-untyped-def]
    origins = vm.get_vars_with_origins(WEB02, play, nginx_task(play))
    assert origins["timezone"] == ("Europe/Berlin", f"{PROJECT}/group_vars/all.yml:2:1")
    assert origins["nginx_user"] == ("www-data", f"{PROJECT}/vars/common.yml:1:1")
    assert origins["app_root"][1] == f"{PROJECT}/webservers.yml:10:5"
    assert origins["nginx_listen_port"] == ("{{ http_port }}", f"{PROJECT}/webservers.yml:24:7")
    assert origins["chrony_conf"][1] == f"{PROJECT}/roles/common/vars/main.yml:1:1"


def test_missing_vars_file_names_the_play(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("- hosts: all\n  vars_files: ['{{ which }}.yml']\n"
                                    "  vars: {which: nope}\n  tasks: []\n")
    play = load_playbook(tmp_path / "p.yml").plays[0]
    vm = VariableManager(load_inventory("h1,"))
    with pytest.raises(PlaybookError, match=rf"p.yml:1:3: vars_files: {tmp_path}/nope.yml "
                                            r"not found"):
        vm.get_vars("h1", play)
