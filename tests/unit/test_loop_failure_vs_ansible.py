"""A loop whose middle item fails: the same playbook through ansible-playbook and through
pyengine (both on localhost, files only under tmp_path) leaves the same files and the
same exit status: every item runs, then the task fails and the next task does not."""

from __future__ import annotations

from pathlib import Path

from vs_ansible import TOOLS, local_inventory, out_folder, require_ansible_playbook, run_playbook

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - copy: {{dest: "{out}/{{{{ item }}}}.txt", content: "x"}}
      loop: [a, "no/such/folder/b", c]
    - copy: {{dest: "{out}/after.txt", content: "x"}}
"""


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_loop_with_a_failing_item_ends_like_ansible(tmp_path: Path) -> None:
    require_ansible_playbook()
    local_inventory(tmp_path)
    results = {}
    for tool in TOOLS:
        out = out_folder(tmp_path, tool)
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.format(out=out))
        proc = run_playbook(tool, tmp_path, book)
        results[tool] = (proc.returncode != 0, _files(out))
    assert results["pyengine"] == results["ansible"] == (True, ["a.txt", "c.txt"])
