"""The executor end to end on the controller itself: real agent, real modules, local connection.

Each "host" is a local connection (the agent runs as a subprocess, exactly as it
would over SSH), and every task writes only under the test's tmp_path. Round
trips are the agent session's own count, so batching is measured, not assumed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyengine import modspec
from pyengine.connection.local import LocalConnection
from pyengine.executor.contracts import RunOptions
from pyengine.executor.run import run_playbook
from pyengine.playbook.loader import load_include, load_include_role, load_playbook
from pyengine.playbook.model import Play, Task

HOSTS = ["h1", "h2", "h3"]


class LocalSources:
    """Sources for hosts that are all the controller (ansible_connection=local)."""

    def __init__(self, hosts: list[str], hostvars: dict[str, dict[str, Any]] | None = None):
        self.hosts = hosts
        self.hostvars = hostvars or {}

    def play_hosts(self, play: Play) -> list[str]:
        return list(self.hosts)

    def base_vars(self, host: str, play: Play, task: Task | None) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        out.update(self.hostvars.get(host, {}))
        out.update(play.vars)
        if task is not None:
            if task.role is not None:
                out.update(task.role.defaults)
                out.update(task.role.vars)
            out.update(task.vars)
        return out

    def inventory_vars(self, host: str) -> Mapping[str, Any]:
        return self.hostvars.get(host, {})

    def groups(self) -> dict[str, list[str]]:
        return {"all": list(self.hosts)}

    def connection(self, host: str, variables: Mapping[str, Any]) -> LocalConnection:
        return LocalConnection(host)

    def module_source(self, name: str) -> str:
        spec = modspec.find_module(name)
        assert spec is not None and spec.path is not None
        return spec.path.read_text()

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        return modspec.normalize_args(module, args, (), task.origin)

    def load_include(self, task: Task, args: dict[str, Any], play: Play) -> list[Any]:
        return load_include(task, str(args.get("file") or args.get("_raw_params")), play)

    def load_include_role(self, task: Task, args: dict[str, Any], play: Play) -> Any:
        tasks, handlers, _ = load_include_role(task, args, play)
        return tasks, handlers

    def module_source_ps1(self, name: str) -> str:
        raise AssertionError("no Windows host here")

    def apply_inventory_change(self, host: str, result: dict[str, Any]) -> None:
        pass  # the tests' hosts are fixed


def run_yaml(tmp_path: Path, text: str, hosts: list[str] | None = None, **opts: Any):
    book = tmp_path / "play.yml"
    book.write_text(textwrap.dedent(text).replace("TMP", str(tmp_path)))
    playbook = load_playbook(book)
    return run_playbook(playbook, LocalSources(hosts or HOSTS), RunOptions(**opts))


def statuses(run: Any, host: str) -> list[tuple[str, str]]:
    return [(t.name, t.status) for t in run.hosts[host].tasks]


def test_noop_tasks_travel_in_one_batch_after_facts(tmp_path: Path) -> None:
    (tmp_path / "seed").write_text("x\n")
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - name: dir
              file: {path: "TMP/{{ inventory_hostname }}", state: directory}
            - name: file
              copy: {dest: "TMP/{{ inventory_hostname }}/a", content: "a\\n"}
            - name: line
              lineinfile: {path: "TMP/{{ inventory_hostname }}/a", line: "b"}
            - name: skipped on the controller
              command: "false"
              when: inventory_hostname == "nope"
        """)
    assert run.exit_code == 0
    for host in HOSTS:
        hr = run.hosts[host]
        # 1 round trip for facts + 1 for the whole batch; the skipped task was never sent.
        assert hr.round_trips == 2
        assert hr.batches == [3]
        assert [t.status for t in hr.tasks] == ["changed", "changed", "changed", "skipped"]
        assert (tmp_path / host / "a").read_text() == "a\nb\n"


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    text = """
        - hosts: all
          tasks:
            - file: {path: "TMP/{{ inventory_hostname }}", state: directory}
            - copy: {dest: "TMP/{{ inventory_hostname }}/f", content: "x\\n", mode: "0640"}
        """
    first = run_yaml(tmp_path, text)
    second = run_yaml(tmp_path, text)
    assert sum(h.changed for h in first.hosts.values()) == 6
    assert sum(h.changed for h in second.hosts.values()) == 0
    assert second.exit_code == 0


def test_batch_cuts_where_a_registered_result_is_read(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: echo hello
              register: out
              changed_when: false
            - command: echo two
              changed_when: false
            - name: reads out
              copy: {dest: "TMP/{{ inventory_hostname }}.txt", content: "{{ out.stdout }}"}
            - name: not reading
              command: echo three
              changed_when: false
        """)
    assert run.exit_code == 0
    for host in HOSTS:
        hr = run.hosts[host]
        assert hr.batches == [2, 2]
        assert hr.round_trips == 3
        assert (tmp_path / f"{host}.txt").read_text() == "hello"


def test_indirect_reference_through_a_variable_also_cuts(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars:
            greeting: "{{ out.stdout }} world"
          tasks:
            - command: echo hello
              register: out
            - copy: {dest: "TMP/{{ inventory_hostname }}.txt", content: "{{ greeting }}"}
        """, hosts=["h1"])
    assert run.hosts["h1"].batches == [1, 1]
    assert (tmp_path / "h1.txt").read_text() == "hello world"


def test_set_fact_and_debug_cost_no_round_trip(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - set_fact: {name_of: "{{ inventory_hostname }}-x"}
            - debug: {msg: "{{ name_of }}"}
            - copy: {dest: "TMP/{{ inventory_hostname }}.txt", content: "{{ name_of }}"}
            - command: echo hi
              changed_when: false
        """)
    for host in HOSTS:
        hr = run.hosts[host]
        assert hr.round_trips == 2
        assert (tmp_path / f"{host}.txt").read_text() == f"{host}-x"
        assert hr.tasks[1].msg == f"{host}-x"


def test_loop_when_per_item_and_loop_control(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}-{{ f }}-{{ i }}", content: "{{ f }}"}
              loop: [a, b, c]
              loop_control: {loop_var: f, index_var: i, label: "{{ f }}"}
              when: f != "b"
              register: r
            - assert:
                that:
                  - r.results | length == 3
                  - r.results[1].skipped
                  - r.changed
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("h1-")) == [
        "h1-a-0", "h1-c-2"]


def test_failure_stops_the_host_and_the_agent_runs_nothing_after_it(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: "false"
              when: inventory_hostname == "h2"
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """)
    assert run.exit_code == 2
    assert run.hosts["h2"].failed == 1
    assert not (tmp_path / "h2.after").exists()
    assert (tmp_path / "h1.after").exists() and (tmp_path / "h3.after").exists()


def test_ignore_errors_and_failed_when_changed_when(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: "false"
              ignore_errors: true
            - command: "sh -c 'exit 3'"
              register: r
              failed_when: r.rc not in [0, 3]
              changed_when: r.rc == 0
            - copy: {dest: "TMP/{{ inventory_hostname }}.ok", content: "{{ r.rc }}"}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert [t.status for t in run.hosts["h1"].tasks] == ["failed", "ok", "changed"]
    assert run.hosts["h1"].tasks[0].ignored
    assert (tmp_path / "h1.ok").read_text() == "3"


def test_block_rescue_always(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - block:
                - copy: {dest: "TMP/{{ inventory_hostname }}.1", content: "x"}
                - command: "false"
                - copy: {dest: "TMP/{{ inventory_hostname }}.never", content: "x"}
              rescue:
                - copy: {dest: "TMP/{{ inventory_hostname }}.rescued", content: "x"}
              always:
                - copy: {dest: "TMP/{{ inventory_hostname }}.always", content: "x"}
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    for suffix in ("1", "rescued", "always", "after"):
        assert (tmp_path / f"h1.{suffix}").exists(), suffix
    assert not (tmp_path / "h1.never").exists()
    hr = run.hosts["h1"]
    assert hr.failed == 0
    assert [t.rescued for t in hr.tasks if t.status == "failed"] == [True]


def test_always_runs_and_failure_is_raised_again_without_rescue(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - block:
                - command: "false"
              always:
                - copy: {dest: "TMP/{{ inventory_hostname }}.always", content: "x"}
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """, hosts=["h1"])
    assert run.exit_code == 2
    assert (tmp_path / "h1.always").exists()
    assert not (tmp_path / "h1.after").exists()


def test_handlers_run_once_at_section_end_only_where_notified(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          handlers:
            - name: restart thing
              copy: {dest: "TMP/{{ inventory_hostname }}.handler", content: "{{ 'x' }}"}
            - name: by topic
              listen: topic
              command: "touch TMP/{{ inventory_hostname }}.topic"
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.conf", content: "x"}
              when: inventory_hostname != "h3"
              notify: [restart thing, topic]
            - copy: {dest: "TMP/{{ inventory_hostname }}.conf2", content: "x"}
              when: inventory_hostname != "h3"
              notify: restart thing
        """)
    assert run.exit_code == 0
    for host in ("h1", "h2"):
        assert (tmp_path / f"{host}.handler").exists()
        assert (tmp_path / f"{host}.topic").exists()
        names = [t.name for t in run.hosts[host].tasks if t.handler]
        assert names == ["restart thing", "by topic"]
    assert not (tmp_path / "h3.handler").exists()


def test_meta_flush_handlers_runs_them_mid_play(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          handlers:
            - name: h
              copy: {dest: "TMP/{{ inventory_hostname }}.h", content: "x"}
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.c", content: "x"}
              notify: h
            - meta: flush_handlers
            - stat: {path: "TMP/{{ inventory_hostname }}.h"}
              register: st
            - assert: {that: st.stat.exists}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")


def test_check_mode_changes_nothing(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.f", content: "x"}
        """, check=True)
    assert run.hosts["h1"].changed == 1
    assert not any(tmp_path.glob("h*.f"))


def test_tags_and_skip_tags(tmp_path: Path) -> None:
    text = """
        - hosts: all
          tasks:
            - {copy: {dest: "TMP/{{ inventory_hostname }}.a", content: "x"}, tags: [a]}
            - {copy: {dest: "TMP/{{ inventory_hostname }}.b", content: "x"}, tags: [b]}
            - {copy: {dest: "TMP/{{ inventory_hostname }}.al", content: "x"}, tags: [always]}
            - {copy: {dest: "TMP/{{ inventory_hostname }}.n", content: "x"}, tags: [never]}
        """
    run_yaml(tmp_path, text, hosts=["h1"], tags={"a"})
    assert sorted(p.suffix for p in tmp_path.glob("h1.*")) == [".a", ".al"]
    run_yaml(tmp_path, text, hosts=["h2"], skip_tags={"a"})
    assert sorted(p.suffix for p in tmp_path.glob("h2.*")) == [".al", ".b"]


def test_until_retries(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - shell: "echo x >> TMP/count; wc -l < TMP/count"
              register: r
              until: r.stdout | int >= 3
              retries: 5
              delay: 0
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert counter.read_text().count("x") == 3


def test_run_once_runs_on_the_first_host_only(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - shell: "echo {{ inventory_hostname }} >> TMP/once"
              run_once: true
              register: once
            - copy: {dest: "TMP/{{ inventory_hostname }}.rc", content: "{{ once.rc }}"}
        """)
    assert run.exit_code == 0
    assert (tmp_path / "once").read_text() == "h1\n"
    assert all((tmp_path / f"{h}.rc").read_text() == "0" for h in HOSTS)


def test_include_tasks_at_run_time_with_loop_var(tmp_path: Path) -> None:
    (tmp_path / "inc.yml").write_text(textwrap.dedent(f"""
        - copy: {{dest: "{tmp_path}/{{{{ inventory_hostname }}}}.inc", content: "x"}}
        """))
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - include_tasks: inc.yml
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "h1.inc").exists()


def test_include_tasks_in_a_loop_and_include_role(tmp_path: Path) -> None:
    (tmp_path / "inc.yml").write_text(
        f'- copy: {{dest: "{tmp_path}/{{{{ inventory_hostname }}}}.{{{{ item }}}}", '
        'content: "x"}\n')
    role = tmp_path / "roles" / "r1"
    (role / "tasks").mkdir(parents=True)
    (role / "handlers").mkdir()
    (role / "tasks" / "main.yml").write_text(
        f'- copy: {{dest: "{tmp_path}/{{{{ inventory_hostname }}}}.role", content: "x"}}\n'
        "  notify: role handler\n")
    (role / "handlers" / "main.yml").write_text(
        f'- name: role handler\n  copy: {{dest: "{tmp_path}/handled", content: "x"}}\n')
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - include_tasks: inc.yml
              loop: [a, b]
            - include_role: {name: r1}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "h1.a").exists() and (tmp_path / "h1.b").exists()
    assert (tmp_path / "h1.role").exists() and (tmp_path / "handled").exists()


def test_template_renders_on_the_controller(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text(
        "host {{ inventory_hostname }}\n{% for x in items %}- {{ x }}\n{% endfor %}")
    run = run_yaml(tmp_path, """
        - hosts: all
          vars: {items: [1, 2]}
          tasks:
            - template: {src: motd.j2, dest: "TMP/{{ inventory_hostname }}.motd"}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "h1.motd").read_text() == "host h1\n- 1\n- 2\n"
    assert run.hosts["h1"].round_trips == 2


def test_no_log_hides_the_result(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars: {secret: "s3cr3t-value"}
          tasks:
            - command: "echo {{ secret }}"
              no_log: true
        """, hosts=["h1"])
    task = run.hosts["h1"].tasks[0]
    assert "s3cr3t-value" not in repr(task)
    assert "censored" in task.result


def test_any_errors_fatal_stops_every_host(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          any_errors_fatal: true
          tasks:
            - command: "false"
              when: inventory_hostname == "h1"
            - meta: noop
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """)
    assert run.exit_code == 2
    assert not any(tmp_path.glob("*.after"))


@pytest.mark.parametrize("serial,expected", [(["1"], 3), (["50%"], 3), (["67%"], 2), ([1, 2], 2)])
def test_serial_batches_run_the_play_in_groups(tmp_path: Path, serial: list[Any],
                                               expected: int) -> None:
    from pyengine.executor.serial import serial_batches

    assert len(serial_batches(["a", "b", "c"], serial)) == expected


def test_max_fail_percentage_stops_the_play(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          max_fail_percentage: 30
          tasks:
            - command: "false"
              when: inventory_hostname == "h1"
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """)
    # 1 of 3 failed = 33% > 30%: nobody starts the next task.
    assert "max_fail_percentage" in run.aborted_msg
    assert not any(tmp_path.glob("*.after"))
    ok = run_yaml(tmp_path, """
        - hosts: all
          max_fail_percentage: 40
          tasks:
            - command: "false"
              when: inventory_hostname == "h1"
            - copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x"}
        """)
    assert not ok.aborted_msg
    assert sorted(p.name for p in tmp_path.glob("*.after")) == ["h2.after", "h3.after"]


def test_serial_runs_the_play_host_group_by_host_group(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          serial: 1
          tasks:
            - shell: "echo {{ inventory_hostname }} >> TMP/order"
            - shell: "echo {{ inventory_hostname }} >> TMP/order"
        """)
    assert run.exit_code == 0
    assert (tmp_path / "order").read_text().split() == ["h1", "h1", "h2", "h2", "h3", "h3"]


def test_failed_host_is_left_out_of_later_plays(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: "false"
              when: inventory_hostname == "h2"
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.play2", content: "x"}
        """)
    assert sorted(p.name for p in tmp_path.glob("*.play2")) == ["h1.play2", "h3.play2"]
    assert run.exit_code == 2


def test_registered_results_and_facts_carry_over_between_plays(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: echo first
              register: from_play1
            - set_fact: {fact1: "{{ ansible_hostname }}"}
        - hosts: all
          tasks:
            - assert:
                that:
                  - from_play1.stdout == "first"
                  - fact1 | length > 0
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")


def test_run_without_inventory_and_without_a_lab_says_what_to_do(tmp_path: Path) -> None:
    import subprocess
    import sys

    from pyengine.lab import lab as lab_module

    if lab_module.default_inventory_path() is not None:
        pytest.skip("the default lab is up: `pyengine run` without -i would target it")
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks:\n    - ping:\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", str(tmp_path / "p.yml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "-i" in proc.stderr and "pyengine lab up" in proc.stderr


def run_with_inventory(tmp_path: Path, inventory: str, text: str, **opts: Any) -> Any:
    """The production adapter: INI inventory + VariableManager (local connections)."""
    from pyengine.executor.sources import InventorySources
    from pyengine.inventory import load_inventory
    from pyengine.vars import VariableManager

    (tmp_path / "inv.ini").write_text(textwrap.dedent(inventory))
    book = tmp_path / "site.yml"
    book.write_text(textwrap.dedent(text).replace("TMP", str(tmp_path)))
    playbook = load_playbook(book)
    inv = load_inventory(tmp_path / "inv.ini", playbook_dir=tmp_path)
    vm = VariableManager(inv, opts.pop("extra_vars", {}))
    sources = InventorySources(inv, vm, limit=opts.pop("limit", None))
    return run_playbook(playbook, sources, RunOptions(extra_vars=vm.extra_vars, **opts))


def test_group_vars_limit_group_by_and_add_host_with_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("role_name_var: webserver\n")
    run = run_with_inventory(tmp_path, """
        [web]
        w1 ansible_connection=local
        w2 ansible_connection=local
        [db]
        d1 ansible_connection=local
        """, """
        - hosts: all
          tasks:
            - copy:
                dest: "TMP/{{ inventory_hostname }}.role"
                content: "{{ role_name_var | default('none') }}"
            - group_by: {key: "kind_{{ role_name_var | default('other') }}"}
            - add_host: {name: extra1, groups: [added], ansible_connection: local}
              run_once: true
        - hosts: kind_webserver:added
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.play2", content: "x"}
        """, limit="w1,d1,extra1")
    assert run.exit_code == 0, [statuses(run, h) for h in run.hosts]
    assert (tmp_path / "w1.role").read_text() == "webserver"
    assert (tmp_path / "d1.role").read_text() == "none"
    assert not (tmp_path / "w2.role").exists()  # --limit
    assert sorted(p.name for p in tmp_path.glob("*.play2")) == ["extra1.play2", "w1.play2"]


def test_extra_vars_win_over_play_vars(tmp_path: Path) -> None:
    run = run_with_inventory(tmp_path, "a ansible_connection=local\n", """
        - hosts: all
          vars: {colour: red}
          tasks:
            - copy: {dest: "TMP/colour", content: "{{ colour }}"}
        """, extra_vars={"colour": "blue"})
    assert run.exit_code == 0
    assert (tmp_path / "colour").read_text() == "blue"


def test_meta_end_play_and_end_host(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          serial: 1
          tasks:
            - meta: end_host
              when: inventory_hostname == "h1"
            - copy: {dest: "TMP/{{ inventory_hostname }}.one", content: "x"}
            - meta: end_play
            - copy: {dest: "TMP/{{ inventory_hostname }}.two", content: "x"}
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.next", content: "x"}
        """)
    assert run.exit_code == 0
    # h1 ended itself; h2 (the next serial batch) ended the play: h3 never ran it.
    assert sorted(p.name for p in tmp_path.glob("*.one")) == ["h2.one"]
    assert not any(tmp_path.glob("*.two"))
    assert len(list(tmp_path.glob("*.next"))) == 3


def test_fewer_forks_than_hosts_still_meets_at_flushes_and_run_once(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          handlers:
            - name: h
              copy: {dest: "TMP/{{ inventory_hostname }}.h", content: "x"}
          tasks:
            - shell: "echo {{ inventory_hostname }} >> TMP/once"
              run_once: true
            - copy: {dest: "TMP/{{ inventory_hostname }}.c", content: "x"}
              notify: h
        """, forks=1)
    assert run.exit_code == 0
    assert (tmp_path / "once").read_text() == "h1\n"
    assert len(list(tmp_path.glob("*.h"))) == 3


def test_unreachable_host_from_the_start_does_not_stop_the_others(tmp_path: Path) -> None:
    run = run_with_inventory(tmp_path, """
        down ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_timeout=3
        up ansible_connection=local
        """, """
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.ok", content: "x"}
        """)
    assert run.exit_code == 4
    assert run.hosts["down"].unreachable and run.hosts["down"].unreachable_msg
    assert (tmp_path / "up.ok").exists() and not (tmp_path / "down.ok").exists()
    from pyengine.report.json_report import report_dict

    assert report_dict(run)["hosts"]["down"]["tasks"][0]["status"] == "unreachable"


def test_hostvars_reads_another_hosts_rendered_variables(tmp_path: Path) -> None:
    run = run_with_inventory(tmp_path, """
        a ansible_connection=local colour=red shade="dark {{ colour }}"
        b ansible_connection=local colour=blue
        """, """
        - hosts: all
          tasks:
            - copy:
                dest: "TMP/{{ inventory_hostname }}.seen"
                content: "{{ hostvars['a'].shade }} {{ hostvars['b'].colour }}"
        """)
    assert run.exit_code == 0
    assert (tmp_path / "b.seen").read_text() == "dark red blue"


def test_clear_host_errors_brings_failed_hosts_back_for_later_plays(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - command: "false"
              when: inventory_hostname == "h1"
            - meta: clear_host_errors
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ inventory_hostname }}.again", content: "x"}
        """)
    assert (tmp_path / "h1.again").exists()
    assert run.hosts["h1"].failed == 1  # the failure itself stays in the record


def test_a_task_reading_hostvars_plans_without_rendering_every_host(tmp_path: Path) -> None:
    run = run_with_inventory(tmp_path, """
        a ansible_connection=local broken="{{ undefined_thing }}"
        b ansible_connection=local
        """, """
        - hosts: all
          tasks:
            - command: echo x
              register: r
            - copy:
                dest: "TMP/{{ inventory_hostname }}.hv"
                content: "{{ hostvars['b'].inventory_hostname | default('b') }} {{ r.rc }}"
        """)
    assert run.exit_code == 0, [statuses(run, h) for h in run.hosts]
    assert (tmp_path / "a.hv").read_text().endswith(" 0")


def test_output_from_the_host_is_never_rendered_as_a_template(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars: {secret_word: leaked}
          tasks:
            - command: "echo '{{ '{{' }} secret_word {{ '}}' }}'"
              register: out
            - copy: {dest: "TMP/{{ inventory_hostname }}.out", content: "{{ out.stdout }}"}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "h1.out").read_text() == "{{ secret_word }}"


def test_facts_set_by_getent_reach_the_next_task_of_the_same_batch(tmp_path: Path) -> None:
    """devsec's os_hardening reads ansible_facts.getent_passwd right after getent: the
    reader must wait for getent's result instead of travelling in its batch."""
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - ansible.builtin.getent: {database: passwd}
            - set_fact:
                users: "{{ ansible_facts.getent_passwd.keys() | list }}"
            - assert: {that: ["'root' in users", "getent_passwd.root[1] == '0'"]}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")


def test_looped_set_fact_sees_its_earlier_items(tmp_path: Path) -> None:
    """dev-sec's os_hardening builds its user lists this way; keeping only the last item
    hardened one home folder instead of all."""
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - set_fact: {acc: "{{ acc | default([]) + [item] }}"}
              loop: [a, b, c]
            - assert: {that: ["acc == ['a', 'b', 'c']"]}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")


def test_an_include_cycle_is_named_as_such(tmp_path: Path) -> None:
    """A file that includes itself without end used to fail as "invalid YAML: nested too
    deeply" against a valid file."""
    (tmp_path / "again.yml").write_text("- include_tasks: again.yml\n")
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - include_tasks: again.yml
        """, hosts=["h1"])
    assert run.exit_code == 2
    msg = run.hosts["h1"].tasks[-1].msg
    assert "nested more than 128 levels deep (an include cycle?)" in msg
    assert "again.yml" in msg and "invalid YAML" not in msg


def test_a_failing_loop_item_lets_the_other_items_run_then_fails_the_task(
        tmp_path: Path) -> None:
    """As in Ansible: every item of a loop runs, then the task fails and the next task
    (in the same batch) does not run."""
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {dest: "TMP/{{ item }}.txt", content: "x"}
              loop: [a, "no/such/folder/b", c]
            - copy: {dest: "TMP/after.txt", content: "x"}
        """, hosts=["h1"])
    assert run.exit_code == 2
    assert (tmp_path / "a.txt").exists() and (tmp_path / "c.txt").exists()
    assert not (tmp_path / "after.txt").exists()
