"""Templating in a real run (`pyengine run`, local connection, files under tmp_path):
magic variables, task names rendered in every output, `debug` shown at the default
verbosity, `with_*` loops, `first_found` in a role, `#jinja2:` headers in template files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyengine", "run", str(tmp_path / "site.yml"), "-i",
         str(tmp_path / "inv.ini"), "--report-json", str(tmp_path / "r.json"),
         "--report-junit", str(tmp_path / "r.xml"), "--history-db",
         str(tmp_path / "h.sqlite"), *extra],
        capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tplrun")
    out = root / "out"
    out.mkdir()
    _write(root, {
        "inv.ini": "[web]\nweb1.example.com ansible_connection=local\n"
                   "web2.example.com ansible_connection=local\n",
        "site.yml": f"""\
            - name: Play for {{{{ groups['web'] | length }}}} hosts
              hosts: web
              gather_facts: false
              vars:
                a: [1, 2]
                b: [3, [4]]
                pkgs: [nginx, curl]
                out: {out}
              roles:
                - hardening
              tasks:
                - name: "Say {{{{ inventory_hostname_short }}}}"
                  debug:
                    msg: "hello from {{{{ inventory_hostname }}}}"
                - name: Quiet unless verbose
                  debug: {{msg: hidden-at-v0, verbosity: 1}}
                - name: Show a variable
                  debug: {{var: pkgs}}
                - name: Flatten one level
                  set_fact:
                    one: "{{{{ item }}}}"
                  with_items: ["{{{{ a }}}}", "{{{{ b }}}}"]
                  register: flat
                - name: Deep flatten by a collection lookup
                  set_fact:
                    one: "{{{{ item }}}}"
                  with_community.general.flattened: ["{{{{ a }}}}", "{{{{ b }}}}"]
                  register: deep
                - name: "Write {{{{ inventory_hostname }}}} magic"
                  copy:
                    dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
                    content: |
                      {{{{ {{'flat': flat.results | map(attribute='item') | list,
                          'deep': deep.results | map(attribute='item') | list,
                          'play_hosts_all': ansible_play_hosts_all,
                          'play_batch': ansible_play_batch,
                          'play_hosts': ansible_play_hosts,
                          'playbook_dir': playbook_dir,
                          'inventory_dir': inventory_dir,
                          'inventory_file': inventory_file | basename,
                          'short': inventory_hostname_short,
                          'group_names': group_names,
                          'groups': groups['web'],
                          'check': ansible_check_mode, 'diff': ansible_diff_mode,
                          'forks': ansible_forks, 'run_tags': ansible_run_tags,
                          'skip_tags': ansible_skip_tags,
                          'limit': ansible_limit | default('unset'),
                          'version_major': ansible_version.major,
                          'via_vars': vars['inventory_hostname'],
                          'hostvar': hostvars['web2.example.com']['inventory_hostname'],
                          'names': query('varnames', '^pkg') }} | to_nice_json }}}}
            """,
        "roles/hardening/tasks/main.yml": """\
            - name: Pick os vars
              include_vars: "{{ lookup('first_found', params) }}"
              vars:
                params:
                  files: [Nope.yml, Debian.yml]
                  paths: ["{{ role_path }}/vars"]
            - name: Old-style first_found
              include_vars: "{{ item }}"
              with_first_found:
                - files: [missing.yml, default.yml]
                  skip: true
            - name: "Role {{ ansible_role_name }} writes {{ os_word }}"
              template:
                src: conf.j2
                dest: "{{ out }}/{{ inventory_hostname }}.conf"
            - name: Role facts
              copy:
                dest: "{{ out }}/{{ inventory_hostname }}.role"
                content: "{{ role_name }} {{ role_path | basename }} {{ default_word }}\\n"
            - name: Include a child role
              include_role: {name: child}
              vars: {how: inc}
            - name: Import a child role
              import_role: {name: child}
              vars: {how: imp}
            """,
        "roles/child/tasks/main.yml": """\
            - name: Child {{ how }}
              copy:
                dest: "{{ out }}/{{ inventory_hostname }}.{{ how }}"
                content: "{{ ansible_parent_role_names }} {{ ansible_parent_role_paths |
                  map('basename') | list }} {{ ansible_role_name }}\\n"
            """,
        "roles/hardening/vars/Debian.yml": "os_word: debian\n",
        "roles/hardening/vars/default.yml": "default_word: fallback\n",
        "roles/hardening/templates/conf.j2": """\
            #jinja2: trim_blocks: True, lstrip_blocks: True
            # {{ os_word }}
            {% for p in pkgs %}
                {% if p != 'curl' %}
            pkg {{ p }}
                {% endif %}
            {% endfor %}
            key {{ 'id_rsa.pub' | regex_replace('^(.*)\\\\.pub$', '\\\\1') }}
            """,
    })
    return root


@pytest.fixture(scope="module")
def first_run(project: Path) -> subprocess.CompletedProcess[str]:
    proc = _run(project, "-f", "7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _magic(project: Path, host: str) -> dict[str, Any]:
    return dict(json.loads((project / "out" / f"{host}.json").read_text()))


def test_with_items_flattens_one_level_and_collection_lookup_all(
        project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    magic = _magic(project, "web1.example.com")
    assert magic["flat"] == [1, 2, 3, [4]]
    assert magic["deep"] == [1, 2, 3, 4]


def test_magic_variables(project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    magic = _magic(project, "web1.example.com")
    both = ["web1.example.com", "web2.example.com"]
    assert magic["play_hosts_all"] == both and magic["play_batch"] == both
    assert magic["play_hosts"] == both
    assert magic["playbook_dir"] == str(project) and magic["inventory_dir"] == str(project)
    assert magic["inventory_file"] == "inv.ini" and magic["short"] == "web1"
    assert magic["group_names"] == ["web"] and magic["groups"] == both
    assert (magic["check"], magic["diff"], magic["forks"]) == (False, False, 7)
    assert magic["run_tags"] == ["all"] and magic["skip_tags"] == []
    assert magic["limit"] == "unset"
    assert magic["version_major"] == 2
    assert magic["via_vars"] == "web1.example.com"
    assert magic["hostvar"] == "web2.example.com"
    assert magic["names"] == ["pkgs"]


def test_role_magic_first_found_and_jinja2_header(
        project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    out = project / "out"
    assert (out / "web1.example.com.role").read_text() == "hardening hardening fallback\n"
    for how in ("inc", "imp"):
        assert (out / f"web1.example.com.{how}").read_text() == (
            "['hardening'] ['hardening'] child\n")
    assert (out / "web1.example.com.conf").read_text() == (
        "# debian\npkg nginx\nkey id_rsa\n")


def test_task_names_rendered_in_console_json_and_junit(
        project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    lines = first_run.stdout.splitlines()
    assert any("Write web1.example.com magic" in ln for ln in lines)
    assert "PLAY [Play for 2 hosts] 2 host(s)" in lines
    assert not [ln for ln in lines if "{{" in ln]
    report = json.loads((project / "r.json").read_text())
    names = [t["name"] for h in report["hosts"].values() for t in h["tasks"]] \
        if isinstance(report["hosts"], dict) else \
        [t["name"] for h in report["hosts"] for t in h["tasks"]]
    assert "Say web1" in names and "Say web2" in names
    assert "Role hardening writes debian" in names
    assert not [n for n in names if "{{" in n]
    junit = ET.parse(project / "r.xml").getroot()
    cases = [c.get("name") or "" for c in junit.iter("testcase")]
    assert any("Write web2.example.com magic" in c for c in cases)
    assert not [c for c in cases if "{{" in c]


def test_debug_prints_at_default_verbosity(
        project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    text = first_run.stdout
    assert '"msg": "hello from web1.example.com"' in text
    assert '"pkgs": [' in text
    assert "hidden-at-v0" not in text


def test_second_run_changes_nothing(project: Path,
                                    first_run: subprocess.CompletedProcess[str]) -> None:
    proc = _run(project, "-f", "7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((project / "r.json").read_text())
    hosts = report["hosts"].values() if isinstance(report["hosts"], dict) else report["hosts"]
    changed = [t["name"] for h in hosts for t in h["tasks"]
               if t["status"] == "changed" and t["module"] != "set_fact"]
    assert changed == []


def test_debug_verbosity_threshold_is_met_with_v(
        project: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    proc = _run(project, "-f", "7", "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hidden-at-v0" in proc.stdout


def test_limit_is_ansible_limit(project: Path,
                                first_run: subprocess.CompletedProcess[str]) -> None:
    proc = _run(project, "-f", "7", "-l", "web*")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _magic(project, "web1.example.com")["limit"] == "web*"
    _run(project, "-f", "7")  # back as the other tests expect it
