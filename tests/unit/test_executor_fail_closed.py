"""A template the executor cannot render fails closed: the task (or the run) fails, and
nothing runs for real because of a value that was never known."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_executor import run_yaml, statuses

from pyengine.errors import PyengineError


def test_broken_check_mode_template_fails_the_task_and_does_not_run_it(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - name: guarded
              copy: {dest: "TMP/{{ inventory_hostname }}.written", content: "x\\n"}
              check_mode: "{{ undefined_thing }}"
            - name: after
              copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x\\n"}
        """, hosts=["h1"])
    assert statuses(run, "h1") == [("guarded", "failed")]
    assert "undefined_thing" in run.hosts["h1"].tasks[0].msg
    assert not (tmp_path / "h1.written").exists()
    assert not (tmp_path / "h1.after").exists()
    assert run.exit_code == 2


def test_broken_play_check_mode_template_stops_the_run_before_any_host(tmp_path: Path) -> None:
    with pytest.raises(PyengineError, match=r"play\.yml:\d+:\d+: play keyword check_mode: .*"
                                            r"undefined_thing"):
        run_yaml(tmp_path, """
            - hosts: all
              check_mode: "{{ undefined_thing }}"
              tasks:
                - copy: {dest: "TMP/{{ inventory_hostname }}.written", content: "x\\n"}
            """, hosts=["h1"])
    assert not (tmp_path / "h1.written").exists()


def test_broken_ansible_become_template_fails_the_host_instead_of_running_without_become(
        tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars:
            ansible_become: "{{ undefined_thing }}"
          tasks:
            - name: guarded
              copy: {dest: "TMP/{{ inventory_hostname }}.written", content: "x\\n"}
        """, hosts=["h1"])
    assert statuses(run, "h1") == [("start agent", "failed")]
    assert "undefined_thing" in run.hosts["h1"].tasks[0].msg
    assert not (tmp_path / "h1.written").exists()


def test_broken_become_variable_of_one_task_fails_that_task(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          tasks:
            - name: guarded
              copy: {dest: "TMP/{{ inventory_hostname }}.written", content: "x\\n"}
              vars:
                ansible_become: "{{ undefined_thing }}"
            - name: after
              copy: {dest: "TMP/{{ inventory_hostname }}.after", content: "x\\n"}
        """, hosts=["h1"])
    assert statuses(run, "h1") == [("guarded", "failed")]
    assert "undefined_thing" in run.hosts["h1"].tasks[0].msg
    assert not (tmp_path / "h1.written").exists()


def test_check_mode_that_renders_to_no_boolean_fails_the_task(tmp_path: Path) -> None:
    run = run_yaml(tmp_path, """
        - hosts: all
          vars:
            audit: "maybe"
          tasks:
            - name: guarded
              copy: {dest: "TMP/{{ inventory_hostname }}.written", content: "x\\n"}
              check_mode: "{{ audit }}"
        """, hosts=["h1"])
    assert statuses(run, "h1") == [("guarded", "failed")]
    assert "check_mode: 'maybe' is not a boolean" in run.hosts["h1"].tasks[0].msg
    assert not (tmp_path / "h1.written").exists()
