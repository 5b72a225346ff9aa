"""A small caching HTTP proxy that gives lab hosts (no network of their own) Debian's archive.

It runs inside the lab daemon, not as a machine service: for each host the daemon
listens on 127.0.0.1:3142 *inside the host's network namespace* and fetches from the
machine's namespace. Only Debian archive hosts are reachable through it. Files whose
name pins their content (pool .debs, by-hash indexes) are cached under
/var/cache/pyengine/apt-proxy and shared by every lab; everything else (InRelease, ...)
passes through so `apt-get update` sees the archive as it is.
"""

from __future__ import annotations

import http.client
import os
import select
import shutil
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from pyengine.lab.config import CACHE_ROOT

ALLOWED_HOSTS = frozenset(
    {"deb.debian.org", "security.debian.org", "ftp.debian.org", "cdn-fastly.deb.debian.org"}
)
CACHE_DIR = CACHE_ROOT / "apt-proxy"
_PASS_HEADERS = ("If-Modified-Since", "If-None-Match", "Range", "If-Range", "Cache-Control")
_COPY_BACK = ("Content-Type", "Last-Modified", "ETag", "Content-Range", "Accept-Ranges", "Date")


def cacheable(path: str) -> bool:
    """True for URLs whose content never changes under the same name."""
    name = path.rsplit("/", 1)[-1]
    return "/by-hash/" in path or name.endswith((".deb", ".udeb", ".dsc", ".diff.gz")) or (
        "/pool/" in path and name.endswith((".tar.gz", ".tar.xz", ".tar.bz2"))
    )


def cache_path(host: str, path: str, root: Path = CACHE_DIR) -> Path | None:
    """Where a cacheable URL is stored, or None for a path that tries to climb out."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        return None
    return root.joinpath(host, *parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pyengine-lab-apt-proxy"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_HEAD(self) -> None:
        self._proxy(head=True)

    def do_GET(self) -> None:
        self._proxy(head=False)

    def _refuse(self, code: int, why: str) -> None:
        body = f"pyengine lab proxy: {why}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _proxy(self, head: bool) -> None:
        url = urlsplit(self.path)
        host = (url.hostname or "").lower()
        if url.scheme != "http" or host not in ALLOWED_HOSTS or (url.port or 80) != 80:
            self._refuse(403, f"only http://{{{','.join(sorted(ALLOWED_HOSTS))}}} is allowed")
            return
        path = url.path or "/"
        target = cache_path(host, path) if cacheable(path) else None
        if target is not None and target.is_file() and "Range" not in self.headers:
            self._serve_file(target, head)
            return
        headers = {"Host": host, "User-Agent": self.headers.get("User-Agent", "pyengine-lab")}
        if target is None:
            for name in _PASS_HEADERS:
                if name in self.headers:
                    headers[name] = self.headers[name]
        conn = http.client.HTTPConnection(host, 80, timeout=60)
        try:
            conn.request("HEAD" if head else "GET", path + (f"?{url.query}" if url.query else ""),
                         headers=headers)
            resp = conn.getresponse()
            self.send_response(resp.status, resp.reason)
            for name in _COPY_BACK:
                value = resp.getheader(name)
                if value:
                    self.send_header(name, value)
            length = resp.getheader("Content-Length")
            if head or resp.status in (204, 304) or resp.status < 200:
                if length:
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            if length is None:
                # Unknown length: read it all so the client gets a Content-Length.
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Length", length)
            self.end_headers()
            store = target if (target is not None and resp.status == 200) else None
            self._stream(resp, int(length), store)
        except OSError as err:
            self.close_connection = True
            try:
                self._refuse(502, f"upstream {host}: {err}")
            except OSError:
                pass
        finally:
            conn.close()

    def _stream(self, resp: http.client.HTTPResponse, length: int, store: Path | None) -> None:
        tmp = None
        if store is not None:
            store.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=store.parent, prefix=".part-")
            tmp = (os.fdopen(fd, "wb"), Path(name))
        received = 0
        try:
            while received < length:
                chunk = resp.read(min(65536, length - received))
                if not chunk:
                    break
                received += len(chunk)
                self.wfile.write(chunk)
                if tmp:
                    tmp[0].write(chunk)
        finally:
            if tmp:
                tmp[0].close()
                if received == length:
                    os.replace(tmp[1], store)  # type: ignore[arg-type]
                else:
                    tmp[1].unlink(missing_ok=True)
        if received < length:
            self.close_connection = True

    def _serve_file(self, path: Path, head: bool) -> None:
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not head:
            with open(path, "rb") as handle:
                shutil.copyfileobj(handle, self.wfile, 65536)

    def do_CONNECT(self) -> None:
        """https sources: a plain tunnel to an allowed host's port 443 (not cached)."""
        host, _, port = self.path.partition(":")
        if host.lower() not in ALLOWED_HOSTS or port != "443":
            self._refuse(403, "CONNECT only to Debian archive hosts on port 443")
            return
        try:
            upstream = socket.create_connection((host, 443), timeout=30)
        except OSError as err:
            self._refuse(502, f"upstream {host}: {err}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        _tunnel(self.connection, upstream)


def _tunnel(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            readable, _, _ = select.select([a, b], [], [], 300)
            if not readable:
                return
            for src in readable:
                data = src.recv(65536)
                if not data:
                    return
                (b if src is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class AptProxy:
    """One proxy server on an already-listening socket (made in a host's namespace)."""

    def __init__(self, sock: socket.socket) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,),
                                       name="apt-proxy", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
