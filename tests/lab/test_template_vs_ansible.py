"""One playbook of templates and `with_*` loops, run by ansible-playbook on one lab host
and by pyengine on another: every file it writes must be byte for byte the same.

It covers what real roles (dev-sec's) lean on: a `#jinja2:` header with trim/lstrip,
`ansible_managed | comment`, a regex backreference from YAML, `with_items` flattening
one level, `with_first_found` in include_vars (the role's vars/), `lookup('varnames')`,
`with_subelements`/`with_dict`/`with_nested`/`with_together`/`with_sequence`/
`with_indexed_items`, a collection lookup loop, and the role's magic variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
OUT = "/root/tplparity"

FILES = {
    "site.yml": """\
        - hosts: all
          gather_facts: false
          vars:
            a: [1, 2]
            b: [3, [4]]
            users:
              - {name: alice, keys: [k1, k2]}
              - {name: bob, keys: [k3]}
            pkgs: {nginx: present, curl: absent}
            key: id_rsa.pub
            ansible_managed: Managed by the parity test
          roles:
            - parity
        """,
    "roles/parity/vars/Debian.yml": "os_word: debian\n",
    "roles/parity/vars/default.yml": "default_word: fallback\n",
    "roles/parity/tasks/main.yml": f"""\
        - name: Out folder
          file: {{path: {OUT}, state: directory, mode: "0755"}}
        - name: OS variables
          include_vars: "{{{{ item }}}}"
          with_first_found:
            - files: [Nope.yml, Debian.yml]
              skip: true
        - name: Defaults
          include_vars: "{{{{ lookup('first_found', params) }}}}"
          vars:
            params:
              files: [missing.yml, default.yml]
              paths: ["{{{{ role_path }}}}/vars"]
        - name: Config from a template with a jinja2 header
          template: {{src: conf.j2, dest: {OUT}/conf, mode: "0644"}}
        - name: Lines of with_items (one level)
          lineinfile: {{path: {OUT}/items, line: "{{{{ item | to_json }}}}", create: true,
                       mode: "0644"}}
          with_items: ["{{{{ a }}}}", "{{{{ b }}}}"]
        - name: Lines of a collection lookup loop (all levels)
          lineinfile: {{path: {OUT}/flat, line: "{{{{ item }}}}", create: true, mode: "0644"}}
          with_community.general.flattened: ["{{{{ a }}}}", "{{{{ b }}}}"]
        - name: Lines of with_dict
          lineinfile: {{path: {OUT}/dict, line: "{{{{ item.key }}}}={{{{ item.value }}}}",
                       create: true, mode: "0644"}}
          with_dict: "{{{{ pkgs }}}}"
        - name: Lines of with_subelements
          lineinfile: {{path: {OUT}/sub, line: "{{{{ item.0.name }}}}:{{{{ item.1 }}}}",
                       create: true, mode: "0644"}}
          with_subelements: ["{{{{ users }}}}", keys]
        - name: Lines of with_nested
          lineinfile: {{path: {OUT}/nested, line: "{{{{ item.0 }}}}-{{{{ item.1 }}}}",
                       create: true, mode: "0644"}}
          with_nested: [[x, y], "{{{{ a }}}}"]
        - name: Lines of with_together
          lineinfile: {{path: {OUT}/together, line: "{{{{ item | to_json }}}}", create: true,
                       mode: "0644"}}
          with_together: [[1, 2, 3], [a, b]]
        - name: Lines of with_sequence
          lineinfile: {{path: {OUT}/seq, line: "{{{{ item }}}}", create: true, mode: "0644"}}
          with_sequence: start=1 end=5 stride=2 format=node%02d
        - name: Lines of with_indexed_items
          lineinfile: {{path: {OUT}/indexed, line: "{{{{ item.0 }}}} {{{{ item.1 }}}}",
                       create: true, mode: "0644"}}
          with_indexed_items: [p, q]
        - name: Set only what is not defined yet
          set_fact:
            "{{{{ item.key }}}}": "{{{{ item.value }}}}"
          when: not lookup('varnames', '^' + item.key + '$')
          with_dict: {{os_word: ignored, fresh_word: fresh}}
        - name: Values and magic variables
          copy:
            dest: {OUT}/values
            mode: "0644"
            content: |
              role={{{{ role_name }}}} {{{{ ansible_role_name }}}} {{{{ role_path | basename }}}}
              regex={{{{ key | regex_replace('^(.*)\\\\.pub$', '\\\\1') }}}}
              words={{{{ os_word }}}} {{{{ default_word }}}} {{{{ fresh_word }}}}
              names={{{{ query('varnames', '^pkg') }}}}
              comment={{{{ 'x' | comment('c') }}}}
              hosts={{{{ ansible_play_hosts_all | length }}}} {{{{ group_names }}}}
        """,
    "roles/parity/templates/conf.j2": """\
        #jinja2: trim_blocks: True, lstrip_blocks: True
        {{ ansible_managed | comment }}
        # os {{ os_word }}
        {% for name, state in pkgs.items() %}
            {% if state == 'present' %}
        install {{ name }}
            {% else %}
        remove {{ name }}
            {% endif %}
        {% endfor %}
        {{ 'Ciphers ' ~ a | join(',') if a else 'Ciphers' | comment }}
        {{ 'MACs ' ~ [] | join(',') if [] else 'MACs' | comment }}
        key {{ key | regex_replace('^(.*)\\\\.pub$', '\\\\1') }}
        """,
}


def _project(root: Path) -> None:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _files_of(host: Any) -> dict[str, str]:
    names = host.exec(["ls", OUT]).stdout.split()
    return {n: host.exec(["cat", f"{OUT}/{n}"]).stdout for n in names}


@pytest.fixture
def two_hosts(lab: Any) -> Any:
    hosts = lab.hosts[:2]
    for host in hosts:
        host.exec(["rm", "-rf", OUT])
    yield hosts
    for host in hosts:
        host.exec(["rm", "-rf", OUT])


def test_same_files_as_ansible_playbook(lab: Any, two_hosts: Any, tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in this environment")
    _project(tmp_path)
    theirs, ours = two_hosts
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".ansible-tmp"),
           "ANSIBLE_HOME": str(tmp_path / ".ansible-home"),
           # ssh's ControlPath folder is ~/.ansible/cp whatever ANSIBLE_HOME says
           "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / ".ansible-cp")}
    ansible = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(lab.inventory_path), "-l", theirs.name,
         str(tmp_path / "site.yml")], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=300, check=False)
    assert ansible.returncode == 0, ansible.stdout[-3000:] + ansible.stderr[-2000:]
    mine = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path), "-l",
         ours.name, str(tmp_path / "site.yml"), "--history-db", str(tmp_path / "h.sqlite")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)
    assert mine.returncode == 0, mine.stdout[-3000:] + mine.stderr[-2000:]
    expected = _files_of(theirs)
    assert sorted(expected) == ["conf", "dict", "flat", "indexed", "items", "nested", "seq",
                                "sub", "together", "values"]
    assert _files_of(ours) == expected
    again = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path), "-l",
         ours.name, str(tmp_path / "site.yml"), "--history-db", str(tmp_path / "h.sqlite")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)
    assert again.returncode == 0 and " changed=0 " in again.stdout, again.stdout[-3000:]
