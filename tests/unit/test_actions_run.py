"""Controller actions through the executor: real agent over the local connection, files
only under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

from test_executor import run_yaml, statuses


def test_copy_src_file_and_folder_from_files_dir(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "tree" / "sub").mkdir(parents=True)
    (files / "one.txt").write_text("one\n")
    (files / "tree" / "a").write_text("A")
    (files / "tree" / "sub" / "b").write_text("B")
    os.chmod(files / "tree" / "sub" / "b", 0o600)
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {src: one.txt, dest: "TMP/out/"}
            - copy: {src: tree, dest: "TMP/out"}
            - copy: {src: "tree/", dest: "TMP/flat/", mode: preserve}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "out" / "one.txt").read_text() == "one\n"
    assert (tmp_path / "out" / "tree" / "sub" / "b").read_text() == "B"
    assert (tmp_path / "flat" / "a").read_text() == "A"
    assert oct((tmp_path / "flat" / "sub" / "b").stat().st_mode & 0o777) == "0o600"
    again = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {src: tree, dest: "TMP/out"}
        """, hosts=["h1"])
    assert again.hosts["h1"].changed == 0


def test_copy_src_missing_names_where_it_looked(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {src: nope.txt, dest: "TMP/x"}
        """, hosts=["h1"])
    assert run.exit_code == 2
    assert "nope.txt" in run.hosts["h1"].tasks[0].msg
    assert str(tmp_path / "files") in run.hosts["h1"].tasks[0].msg


def test_template_from_a_role_uses_role_templates_and_vars(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "motd"
    (role / "templates").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "defaults").mkdir()
    (role / "defaults" / "main.yml").write_text("who: ops\n")
    (role / "templates" / "motd.j2").write_text("{{ inventory_hostname }} by {{ who }}\n")
    (role / "tasks" / "main.yml").write_text(
        f'- template: {{src: motd.j2, dest: "{tmp_path}/{{{{ inventory_hostname }}}}.motd"}}\n')
    run = run_yaml(tmp_path, """
        - hosts: all
          roles: [motd]
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "h1.motd").read_text() == "h1 by ops\n"


def test_template_undefined_variable_fails_with_the_name(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("{{ missing_var }}")
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - template: {src: t.j2, dest: "TMP/t"}
        """, hosts=["h1"])
    assert run.exit_code == 2
    assert "missing_var" in run.hosts["h1"].tasks[0].msg


def test_fetch_puts_files_under_dest_host_path_or_flat(tmp_path: Path) -> None:
    (tmp_path / "src.txt").write_text("data")
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - fetch: {src: "TMP/src.txt", dest: "TMP/fetched"}
            - fetch: {src: "TMP/src.txt", dest: "TMP/flat-{{ inventory_hostname }}", flat: true}
        """, hosts=["h1", "h2"])
    assert run.exit_code == 0, statuses(run, "h1")
    for host in ("h1", "h2"):
        nested = tmp_path / "fetched" / host / str(tmp_path).lstrip("/") / "src.txt"
        assert nested.read_text() == "data"
        assert (tmp_path / f"flat-{host}").read_text() == "data"


def test_include_vars_assert_fail_and_debug_var(tmp_path: Path) -> None:
    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "extra.yml").write_text("colour: blue\nsize: 3\n")
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - include_vars: extra.yml
            - debug: {var: colour}
            - assert:
                that: [colour == "blue", size > 2]
            - assert:
                that: size > 5
                fail_msg: "too small: {{ size }}"
              ignore_errors: true
            - fail: {msg: "stop {{ inventory_hostname }}"}
              when: inventory_hostname == "h2"
        """, hosts=["h1", "h2"])
    h1 = run.hosts["h1"].tasks
    assert h1[1].result["colour"] == "blue"
    assert h1[3].status == "failed" and h1[3].ignored and h1[3].msg == "too small: 3"
    assert run.hosts["h1"].failed == 0
    assert run.hosts["h2"].tasks[-1].msg == "stop h2"
    assert run.exit_code == 2


def test_raw_and_script_run_without_the_agent(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "hello.sh").write_text('echo "hello $1" > "$2"\n')
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - raw: echo raw > TMP/raw.txt
            - script: hello.sh world TMP/script.txt
            - script: hello.sh again TMP/script.txt
              args: {creates: TMP/script.txt}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "raw.txt").read_text() == "raw\n"
    assert (tmp_path / "script.txt").read_text() == "hello world\n"
    assert run.hosts["h1"].tasks[2].changed is False


def test_delegate_to_localhost_runs_on_the_controller(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - copy: {dest: "TMP/delegated-{{ inventory_hostname }}", content: "x"}
              delegate_to: localhost
        """, hosts=["h1", "h2"])
    assert run.exit_code == 0
    assert (tmp_path / "delegated-h1").exists() and (tmp_path / "delegated-h2").exists()


def test_pause_and_wait_for_connection(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - pause: {seconds: 0.2}
            - wait_for_connection: {timeout: 10}
            - command: echo still here
              register: r
            - assert: {that: r.stdout == "still here"}
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    # facts, the reconnect's new agent (hello), then the command
    assert run.hosts["h1"].round_trips == 3


def test_environment_reaches_the_module(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          environment: {PE_TEST_VAR: "from-play"}
          tasks:
            - shell: echo "$PE_TEST_VAR" > TMP/env.txt
        """, hosts=["h1"])
    assert run.exit_code == 0, statuses(run, "h1")
    assert (tmp_path / "env.txt").read_text() == "from-play\n"


def test_unknown_module_argument_at_run_time_fails_the_task_clearly(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars: {wanted: bogus}
          tasks:
            - file: {path: "TMP/x", state: "{{ wanted }}"}
        """, hosts=["h1"])
    assert run.exit_code == 2
    msg = run.hosts["h1"].tasks[0].msg
    assert "bogus" in msg and "state" in msg


def test_fetch_refuses_a_src_that_would_write_outside_dest(tmp_path: Path) -> None:
    """CVE-2019-3828's class: the part of the path that comes from `src` (which may come
    from the target) cannot climb out of `dest`."""
    (tmp_path / "d").mkdir()
    (tmp_path / "src.txt").write_text("data")
    climbing = f"{tmp_path}/d/" + "../" * 30 + f"{str(tmp_path).lstrip('/')}/src.txt"
    run = run_yaml(tmp_path, f"""
        - hosts: all
          tasks:
            - fetch: {{src: "{climbing}", dest: "TMP/fetched"}}
        """, hosts=["h1"])
    assert run.exit_code == 2
    assert "refusing fetched path" in run.hosts["h1"].tasks[0].msg
    assert not (tmp_path / "fetched").exists()
