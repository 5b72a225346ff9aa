"""The `url` lookup against a real HTTP server on loopback, evaluated by ansible-core and
by pyengine: the same values, and an error in both where one fails."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback_http import QuietHandler, serving

pytest.importorskip("ansible", reason="the comparison needs ansible-core (test extra)")

PARITY = Path(__file__).resolve().parent.parent / "parity"
BODIES = {"/lines": "first\nsecond\n\nfourth\n", "/one": "just one line",
          "/sums": "abc123  file.tar.gz\ndef456  other.tar.gz\n"}


class _Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/auth":
            expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="lab"')
                self.end_headers()
                return
            self._send(200, "welcome ops\n")
        elif self.path == "/agent":
            self._send(200, self.headers.get("User-Agent", "") + "\n")
        elif self.path == "/header":
            self._send(200, self.headers.get("X-Client", "none") + "\n")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/one")
            self.end_headers()
        elif self.path in BODIES:
            self._send(200, BODIES[self.path])
        else:
            self._send(404, "no such page\n")

    def _send(self, code: int, text: str) -> None:
        self.send(code, text.encode())


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


CASES = {
    "lines": "{{ query('url', base ~ '/lines') }}",
    "joined": "{{ lookup('url', base ~ '/lines') }}",
    "no_split": "{{ lookup('url', base ~ '/lines', split_lines=false) }}",
    "one": "{{ lookup('url', base ~ '/one') }}",
    "two_urls": "{{ query('url', base ~ '/one', base ~ '/sums') }}",
    "sums_first": "{{ (lookup('url', base ~ '/sums', wantlist=true) | first).split()[0] }}",
    "missing": "{{ lookup('url', base ~ '/nothing-here') }}",
    "missing_ignored": "{{ lookup('url', base ~ '/nothing-here', errors='ignore') }}",
    "auth_needed": "{{ lookup('url', base ~ '/auth') }}",
    "auth_basic": "{{ lookup('url', base ~ '/auth', username='ops', password='s3cret') }}",
    "auth_forced": "{{ lookup('url', base ~ '/auth', username='ops', password='s3cret', "
                   "force_basic_auth=true) }}",
    "agent": "{{ lookup('url', base ~ '/agent') }}",
    "agent_set": "{{ lookup('url', base ~ '/agent', http_agent='pyengine-test') }}",
    "header": "{{ lookup('url', base ~ '/header', headers={'X-Client': 'acme'}) }}",
    "redirect": "{{ lookup('url', base ~ '/moved') }}",
    "refused": "{{ lookup('url', 'http://127.0.0.1:9/x', timeout=2) }}",
    "bad_scheme": "{{ lookup('url', 'nothing://x') }}",
}


def _ansible(base_url: str, tmp_path: Path) -> dict[str, Any]:
    request = {"basedir": str(tmp_path), "vars": {"base": base_url},
               "cases": [{"id": k, "template": v} for k, v in CASES.items()]}
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".tmp"),
           "ANSIBLE_HOME": str(tmp_path / ".home"), "no_proxy": "127.0.0.1"}
    proc = subprocess.run([sys.executable, str(PARITY / "ansible_oracle.py")],
                          input=json.dumps(request), capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout))


def _ours(base_url: str, tmp_path: Path) -> dict[str, Any]:
    from pyengine.errors import PyengineError
    from pyengine.templating import Templar

    sys.path.insert(0, str(PARITY))
    try:
        from ansible_oracle import _plain
    finally:
        sys.path.pop(0)
    out: dict[str, Any] = {}
    for case_id, text in CASES.items():
        templar = Templar({"base": base_url}, [tmp_path])
        try:
            out[case_id] = {"value": _plain(templar.render(text))}
        except PyengineError as err:
            out[case_id] = {"error": str(err)}
    return out


def test_url_lookup_same_as_ansible(base_url: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    theirs = _ansible(base_url, tmp_path)
    ours = _ours(base_url, tmp_path)
    differ = {}
    for case_id in CASES:
        a, b = theirs[case_id], ours[case_id]
        same = ("error" in a) == ("error" in b) and a.get("value") == b.get("value")
        if not same:
            differ[case_id] = {"ansible": a, "pyengine": b}
    assert not differ, json.dumps(differ, indent=1)
    assert ours["lines"]["value"] == ["first", "second", "", "fourth"]
    assert "error" in ours["missing"] and "404" in ours["missing"]["error"]


def test_url_lookup_unknown_option_is_one_line(base_url: str) -> None:
    from pyengine.errors import TemplateError
    from pyengine.templating import Templar

    with pytest.raises(TemplateError, match="unsupported option.*colour"):
        Templar({"base": base_url}, []).render("{{ lookup('url', base ~ '/one', colour=1) }}")
