"""add_host and group_by, then `groups`, `group_names`, `hostvars` and the
inventory_hostnames lookup in the same play and in the next ones: the same playbook
through ansible-playbook and through pyengine (hosts on localhost, files only under
tmp_path) writes the same files.

Only what is deterministic in both is compared: a host's own view right after its own
change, and every view from the next play on (pyengine's hosts run freely, as with
Ansible's `strategy: free`, so another host's change may land before or after a task).
The order of hosts inside `groups` is not compared (sorted first): group_by groups fill
in the order hosts get there, and ansible-core lists add_host's hosts first in
`groups['all']` (docs/PLAYBOOKS.md says so).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vs_ansible import TOOLS, out_folder, require_ansible_playbook, run_playbook

INVENTORY = """\
[web]
w1
w2
[db]
d1
[all:vars]
ansible_connection=local
ansible_python_interpreter={python}
"""

VIEW = ("{{ {'groups': groups, 'names': group_names, "
        "'n9': hostvars['n9']['flavour'] | default('none'), "
        "'db_not_d1': query('inventory_hostnames', 'db:!d1'), "
        "'web': lookup('inventory_hostnames', 'web')} | to_nice_json }}")

# OUT and VIEW are replaced before the file is written.
PLAY = """\
- hosts: w1
  gather_facts: false
  tasks:
    - add_host: {name: n9, groups: [db, extra], flavour: added, ansible_connection: local}
    - group_by:
        key: "first_{{ inventory_hostname }}"
    - copy:
        dest: "OUT/{{ inventory_hostname }}-same-play.json"
        content: "VIEW"

- hosts: all
  gather_facts: false
  tasks:
    - group_by:
        key: "kind_{{ inventory_hostname[0] }}"
        parents: [grouped]
    - copy:
        dest: "OUT/{{ inventory_hostname }}-own.json"
        content: "{{ group_names | to_json }}"

- hosts: db
  gather_facts: false
  tasks:
    - copy:
        dest: "OUT/{{ inventory_hostname }}-next-play.json"
        content: "VIEW"
"""


def _files(folder: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        value = json.loads(path.read_text())
        if isinstance(value, dict):
            value["groups"] = {k: sorted(v) for k, v in value["groups"].items()}
        out[path.name] = value
    return out


def test_inventory_changes_are_seen_like_ansible(tmp_path: Path) -> None:
    require_ansible_playbook()
    (tmp_path / "inv.ini").write_text(INVENTORY.format(python=sys.executable))
    results = {}
    for tool in TOOLS:
        out = out_folder(tmp_path, tool)
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.replace("OUT", str(out)).replace("VIEW", VIEW))
        proc = run_playbook(tool, tmp_path, book)
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        results[tool] = _files(out)
    assert results["pyengine"] == results["ansible"]
    names = set(results["pyengine"])
    assert {"w1-same-play.json", "n9-next-play.json", "d1-next-play.json"} <= names
    same_play = results["pyengine"]["w1-same-play.json"]
    assert isinstance(same_play, dict) and same_play["n9"] == "added"
