"""get_url against ansible.builtin.get_url: same URL (a server on 127.0.0.1 or file://), same
starting dest, same outcome (changed, failed, msg, status, checksums, bytes on disk)."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

ROOT = Path(__file__).resolve().parents[2]
BODY = b"#!/bin/sh\necho from the server\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/gone":
            self.send_response(404)
            self.end_headers()
            return
        data = BODY
        if self.path == "/SUMS":
            data = f"{hashlib.sha256(BODY).hexdigest()}  tool.sh\n".encode()
        self.send_response(200)
        if self.path == "/download":
            self.send_header("Content-Disposition", 'attachment; filename="named.sh"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SHA = hashlib.sha256(BODY).hexdigest()
CASES: list[tuple[str, str, bytes | None, dict[str, Any]]] = [
    ("new_file", "/tool.sh", None, {}),
    ("same_bytes", "/tool.sh", BODY, {}),
    ("other_bytes_no_force", "/tool.sh", b"old\n", {}),
    ("other_bytes_force", "/tool.sh", b"old\n", {"force": True}),
    ("checksum_match_no_download", "/gone", BODY, {"checksum": f"sha256:{SHA}"}),
    ("checksum_url", "/tool.sh", None, {"checksum": "sha256:{url}/SUMS"}),
    ("checksum_mismatch", "/tool.sh", None, {"checksum": "sha256:" + "0" * 64}),
    ("not_found", "/gone", None, {}),
    ("folder_dest_named", "/download", "DIR", {}),
    ("folder_dest_url_name", "/tool.sh", "DIR", {}),
    ("file_url", "FILE", None, {}),
    ("file_url_same", "FILE", BODY, {}),
    ("mode", "/tool.sh", None, {"mode": "0700"}),
]


def _prepare(folder: Path, start: bytes | str | None) -> Path:
    folder.mkdir()
    (folder / "src").mkdir()
    (folder / "src" / "tool.sh").write_bytes(BODY)
    if start == "DIR":
        (folder / "dl").mkdir()
        return folder / "dl"
    dest = folder / "tool.sh"
    if isinstance(start, bytes):
        dest.write_bytes(start)
    return dest


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_get_url_matches_ansible(case: tuple[str, str, bytes | None, dict[str, Any]], url: str,
                                 tmp_path: Path) -> None:
    pytest.importorskip("ansible.modules.get_url")
    _name, path, start, extra = case
    outcomes = []
    for side in ("theirs", "ours"):
        folder = tmp_path / side
        dest = _prepare(folder, start)
        source = f"file://{folder}/src/tool.sh" if path == "FILE" else url + path
        args = {k: (v.replace("{url}", url) if isinstance(v, str) else v)
                for k, v in extra.items()}
        args.update(url=source, dest=str(dest))
        if side == "theirs":
            argfile = folder / "args.json"
            argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
                args, _ansible_tmpdir=str(folder))}))
            proc = subprocess.run([sys.executable, "-m", "ansible.modules.get_url",
                                   str(argfile)], capture_output=True, text=True, timeout=60)
            result = json.loads(proc.stdout)
        else:
            result = run_module((ROOT / "modules" / "get_url.py").read_text(),
                                normalize_args("ansible.builtin.get_url", args), name="get_url")
        written = Path(result.get("dest", dest))
        on_disk = written.read_bytes() if written.is_file() else None
        mode = oct(written.stat().st_mode & 0o777) if written.is_file() else None
        outcomes.append((result, on_disk, mode, written.name))
    (theirs, t_disk, t_mode, t_name), (ours, o_disk, o_mode, o_name) = outcomes
    assert bool(ours.get("failed")) == bool(theirs.get("failed")), (theirs, ours)
    assert ours["changed"] == theirs.get("changed", False), (theirs, ours)
    # A checksum failure names Ansible's temp file; ours names the destination.
    mine, other = (r["msg"].split(" did not match ")[-1] for r in (ours, theirs))
    assert mine == other or mine.startswith(other), (theirs, ours)
    assert (o_disk, o_mode, o_name) == (t_disk, t_mode, t_name)
    if not theirs.get("failed"):
        for key in ("checksum_src", "checksum_dest", "status_code"):
            assert ours.get(key) == theirs.get(key), key
    else:
        assert ours.get("status_code") == theirs.get("status_code")
