"""setup, get_url and modprobe logic that the data cases cannot reach.

setup: gather_subset rules (Ansible's: the minimal set always, `!all`, `!min`, explicit
additions beat exclusions), filter patterns, local facts, fresh gathering through the
agent's facts library. get_url over real HTTP from a server on 127.0.0.1 in this process:
conditional GET (304), basic auth, headers, checksum files, failures, check mode.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mod_{name}", ROOT / "modules" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


setup = load("setup")


def run(name: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    params = normalize_args(name, args)
    return run_module((ROOT / "modules" / f"{name}.py").read_text(), params, name=name, **kw)


# -- setup ------------------------------------------------------------------------------

@pytest.mark.parametrize("subset, has, lacks", [
    (["all"], {"mounts", "network", "virtual", "distribution"}, set()),
    (["!all"], {"distribution", "platform", "dns"}, {"mounts", "network", "hardware"}),
    (["!all", "!min"], set(), {"distribution", "network"}),
    (["network"], {"network", "distribution"}, {"hardware", "virtual"}),
    (["!hardware"], {"distribution"}, {"hardware", "mounts", "network"}),
    (["all", "!hardware"], {"network", "virtual"}, {"hardware", "mounts"}),
    (["!all", "!min", "distribution"], {"distribution"}, {"platform", "network"}),
    (["min", "!dns"], {"distribution"}, {"dns"}),
])
def test_setup_gather_subset_follows_ansible_rules(subset: list[str], has: set[str],
                                                   lacks: set[str]) -> None:
    chosen = setup.collectors(subset)
    assert has <= chosen
    assert not (lacks & chosen)


def test_setup_unknown_subset_is_refused_with_ansibles_message() -> None:
    with pytest.raises(ValueError, match="Bad subset 'hardwar' given to Ansible"):
        setup.collectors(["hardwar"])


def test_setup_filter_matches_with_or_without_prefix() -> None:
    facts = {"ansible_distribution": "Debian", "ansible_distribution_version": "12",
             "ansible_kernel": "6.1", "ansible_mounts": []}
    everything = setup.collectors(["all"])
    assert set(setup.select(facts, everything, ["ansible_distribution*"])) == {
        "ansible_distribution", "ansible_distribution_version"}
    assert set(setup.select(facts, everything, ["kernel"])) == {"ansible_kernel"}
    assert "ansible_mounts" not in setup.select(facts, setup.collectors(["!all"]), [])


def test_setup_parses_resolv_conf_and_if_inet6() -> None:
    dns = setup.dns_facts("# c\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch a.b c.d\n"
                          "options ndots:2 rotate\n")
    assert dns == {"nameservers": ["10.0.0.1", "10.0.0.2"], "search": ["a.b", "c.d"],
                   "options": {"ndots": "2", "rotate": True}}
    text = ("00000000000000000000000000000001 01 80 10 80       lo\n"
            "fe800000000000000000000000000001 02 40 20 80     eth0\n"
            "20010db8000000000000000000000001 02 40 00 80     eth0\n")
    assert setup.parse_if_inet6(text) == {
        "lo": [{"address": "::1", "prefix": "128", "scope": "host"}],
        "eth0": [{"address": "fe80::1", "prefix": "64", "scope": "link"},
                 {"address": "2001:db8::1", "prefix": "64", "scope": "global"}]}


def test_setup_gathers_fresh_facts_and_local_facts(tmp_path: Path) -> None:
    facts_d = tmp_path / "facts.d"
    facts_d.mkdir()
    (facts_d / "app.fact").write_text('{"version": "1.2"}')
    (facts_d / "site.fact").write_text("[general]\nName = lab\n")
    script = facts_d / "dyn.fact"
    script.write_text("#!/bin/sh\necho '{\"n\": 3}'\n")
    script.chmod(0o755)
    spec = importlib.util.spec_from_file_location("pyengine_facts",
                                                  ROOT / "pyengine" / "agent" / "facts.py")
    assert spec and spec.loader
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
    sys.modules["pyengine_facts"] = lib  # as the agent loads it
    try:
        result = run("setup", {"fact_path": str(facts_d)}, facts={"ansible_stale": 1})
    finally:
        del sys.modules["pyengine_facts"]
    facts = result["ansible_facts"]
    assert result["changed"] is False and not result["failed"]
    assert "ansible_stale" not in facts  # gathered again, not the first exchange's
    assert facts["ansible_local"] == {"app": {"version": "1.2"}, "site": {"general": {
        "Name": "lab"}}, "dyn": {"n": 3}}
    assert facts["ansible_distribution"] and facts["ansible_pkg_mgr"]
    assert facts["module_setup"] is True and facts["gather_subset"] == ["all"]
    only = run("setup", {"filter": ["ansible_os_family"], "fact_path": str(facts_d)},
               facts={"ansible_os_family": "Debian", "ansible_kernel": "x"})
    assert set(only["ansible_facts"]) == {"ansible_os_family", "gather_subset", "module_setup"}


# -- get_url over HTTP --------------------------------------------------------------------

BODY = b"payload over http\n"
MTIME = time.time() - 3600


class Handler(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Handler.seen.append(dict(self.headers.items(), path=self.path))
        if self.path == "/secret":
            expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="x"')
                self.end_headers()
                return
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            return
        if self.path == "/SHA256SUMS":
            data = f"{hashlib.sha256(BODY).hexdigest()}  file.txt\n".encode()
        else:
            data = BODY
        since = self.headers.get("If-Modified-Since")
        if since and self.path == "/file.txt":
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        if self.path == "/named":
            self.send_header("Content-Disposition", 'attachment; filename="real.bin"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_get_url_downloads_then_conditional_get_keeps_file(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "file.txt"
    first = run("get_url", {"url": server + "/file.txt", "dest": str(dest), "mode": "0640"})
    assert first["changed"] and first["status_code"] == 200, first
    assert dest.read_bytes() == BODY and oct(dest.stat().st_mode & 0o777) == "0o640"
    assert first["checksum_src"] == hashlib.sha1(BODY).hexdigest()
    os.utime(dest, (MTIME, MTIME))
    Handler.seen.clear()
    second = run("get_url", {"url": server + "/file.txt", "dest": str(dest)})
    assert second["changed"] is False and second["status_code"] == 304
    assert Handler.seen[0].get("If-Modified-Since")


def test_get_url_force_downloads_and_compares(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"old\n")
    dry = run("get_url", {"url": server + "/file.txt", "dest": str(dest), "force": True},
              check_mode=True, diff_mode=True)
    assert dry["changed"] and dest.read_bytes() == b"old\n"
    assert dry["diff"]["after"] == {"checksum": hashlib.sha1(BODY).hexdigest()}
    real = run("get_url", {"url": server + "/file.txt", "dest": str(dest), "force": True,
                           "backup": True})
    assert real["changed"] and dest.read_bytes() == BODY
    assert Path(real["backup_file"]).read_bytes() == b"old\n"
    again = run("get_url", {"url": server + "/file.txt", "dest": str(dest), "force": True})
    assert again["changed"] is False


def test_get_url_basic_auth_and_headers(server: str, tmp_path: Path) -> None:
    Handler.seen.clear()
    dest = tmp_path / "s.txt"
    result = run("get_url", {"url": server + "/secret", "dest": str(dest), "url_username": "ops",
                             "url_password": "s3cret", "headers": {"X-Token": "abc"}})
    assert result["changed"], result
    assert any(h.get("X-Token") == "abc" for h in Handler.seen)
    denied = run("get_url", {"url": server + "/secret", "dest": str(tmp_path / "d.txt")})
    assert denied["failed"] and denied["status_code"] == 401
    inline = run("get_url", {"url": server.replace("http://", "http://ops:s3cret@") + "/secret",
                             "dest": str(tmp_path / "i.txt"), "force_basic_auth": True})
    assert inline["changed"] and "s3cret" not in inline["url"]


def test_get_url_checksum_url_folder_dest_and_404(server: str, tmp_path: Path) -> None:
    result = run("get_url", {"url": server + "/file.txt", "dest": str(tmp_path),
                             "checksum": "sha256:" + server + "/SHA256SUMS"})
    assert result["changed"] and result["dest"] == str(tmp_path / "file.txt")
    named = run("get_url", {"url": server + "/named", "dest": str(tmp_path)})
    assert named["dest"] == str(tmp_path / "real.bin")
    missing = run("get_url", {"url": server + "/missing", "dest": str(tmp_path / "m")})
    assert missing["failed"] and missing["msg"] == "Request failed"
    assert missing["status_code"] == 404 and not (tmp_path / "m").exists()
    bad = run("get_url", {"url": server + "/file.txt", "dest": str(tmp_path / "x"),
                          "checksum": "nope"})
    assert bad["failed"] and "<algorithm>:<checksum>" in bad["msg"]


def test_gather_facts_is_setup_under_ansibles_other_name() -> None:
    assert (ROOT / "modules" / "gather_facts.py").resolve() == (ROOT / "modules" / "setup.py")
    params = normalize_args("ansible.builtin.gather_facts", {"parallel": True})
    result = run_module((ROOT / "modules" / "gather_facts.py").read_text(), params,
                        name="gather_facts", facts={"ansible_os_family": "Debian"})
    assert not result["failed"] and result["ansible_facts"]["module_setup"] is True
