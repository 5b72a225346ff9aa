"""ansible.builtin.uri runs through the module bridge (its action plugin only carries
controller files, for `src` and multipart filenames): the same playbook through
ansible-playbook and pyengine against a loopback HTTP server writes the same files; the
controller-file forms are a one-line load-time error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback_http import QuietHandler, serving
from vs_ansible import TOOLS, local_inventory, out_folder, require_ansible_playbook, run_playbook


class _Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/status":
            self._send(200, {"service": "backup", "ok": True, "queue": [3, 1]})
        elif self.path == "/gone":
            self._send(410, {"error": "gone"})
        else:
            self._send(404, {"error": "no such page"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self._send(201, {"received": body, "type": self.headers.get("Content-Type")})

    def _send(self, code: int, value: Any) -> None:
        self.send(code, json.dumps(value, sort_keys=True).encode(), "application/json")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - uri: {url: "BASE/status", return_content: true}
      register: got
    - uri:
        url: "BASE/items"
        method: POST
        body_format: json
        body: {name: web1, tags: [a, b]}
        status_code: 201
      register: posted
    - uri: {url: "BASE/gone", status_code: [200, 410]}
      register: gone
    - uri: {url: "BASE/nothing"}
      register: missing
      ignore_errors: true
    - copy:
        dest: "OUT/results.json"
        content: "{{ {'status': got.status, 'json': got.json, 'posted': posted.json,
                      'posted_status': posted.status, 'gone': gone.status,
                      'missing_failed': missing.failed, 'missing': missing.status,
                      'changed': [got.changed, posted.changed]} | to_nice_json }}"
"""


NO_PROXY = {"no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}


def test_uri_like_ansible(base_url: str, tmp_path: Path) -> None:
    require_ansible_playbook()
    local_inventory(tmp_path)
    results = {}
    for tool in TOOLS:
        out = out_folder(tmp_path, tool)
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.replace("OUT", str(out)).replace("BASE", base_url))
        proc = run_playbook(tool, tmp_path, book, env=NO_PROXY)
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        results[tool] = json.loads((out / "results.json").read_text())
    assert results["pyengine"] == results["ansible"]
    assert results["pyengine"]["posted"]["received"] == {"name": "web1", "tags": ["a", "b"]}
    assert results["pyengine"]["missing_failed"] is True


@pytest.mark.parametrize("args, needs", [
    ("{url: 'http://127.0.0.1:9/x', method: PUT, src: body.json}", "`src` from the controller"),
    ("{url: 'http://127.0.0.1:9/x', method: POST, body_format: form-multipart, "
     "body: {file: {filename: body.json}}}", "form-multipart `filename`"),
])
def test_uri_controller_files_are_a_load_time_error(tmp_path: Path, args: str,
                                                     needs: str) -> None:
    (tmp_path / "inv.ini").write_text("localhost ansible_connection=local\n")
    book = tmp_path / "book.yml"
    book.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n    - uri: {args}\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "-i",
                           str(tmp_path / "inv.ini"), str(book)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert needs in output and "book.yml:4" in output, output[-1500:]
    assert "Traceback" not in output
