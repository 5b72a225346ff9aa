"""A WS-Management (WinRM) server written for the tests, on loopback.

There is no Windows host or PowerShell on these machines, so pyengine's WinRM
transport is tested against this server instead. It speaks the part of the
protocol pywinrm uses — shell Create, Command, Send (stdin), Receive (output in
chunks, CommandState Done with ExitCode), Signal (terminate) and Delete — with
HTTP Basic auth (over HTTPS) or NTLM with WinRM message encryption (over plain
HTTP, the way a default Windows listener on 5985 requires it). It does NOT run
PowerShell: each command is answered by a Python `CommandHandler` the test
provides, which receives the command line and stdin and returns stdout, stderr
and the exit code.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
ACTION_PREFIX = {
    "Create": "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
    "Delete": "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
    "Command": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
    "Send": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send",
    "Receive": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
    "Signal": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
}
TIMEOUT_FAULT_CODE = 2150858793  # "the operation timed out": pywinrm retries Receive on it
BOUNDARY = b"--Encrypted Boundary"
NTLM_PROTOCOL = b"application/HTTP-SPNEGO-session-encrypted"

# (command line, arguments, stdin) -> (stdout, stderr, exit code), or None while "running".
CommandHandler = Callable[[str, str, bytes], "tuple[bytes, bytes, int] | None"]


@dataclass
class Command:
    line: str
    arguments: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    result: tuple[bytes, bytes, int] | None = None
    sent_out: int = 0
    sent_err: int = 0
    terminated: bool = False


@dataclass
class ServerLog:
    """What the server saw, for assertions on the wire behaviour."""

    actions: list[str] = field(default_factory=list)
    auth_schemes: list[str] = field(default_factory=list)
    encrypted_bodies: int = 0
    plaintext_bodies: int = 0
    raw_bodies: list[bytes] = field(default_factory=list)
    receives: int = 0
    commands: list[Command] = field(default_factory=list)


class WSManServer:
    """Start with `start()`; `url` is the endpoint to give pywinrm; `stop()` ends it."""

    def __init__(
        self,
        handler: CommandHandler,
        auth: str = "basic",
        username: str = "Administrator",
        password: str = "Passw0rd!",
        tls: ssl.SSLContext | None = None,
        chunk_size: int = 0,
        receive_delay_s: float = 0.0,
        timeout_first_receives: int = 0,
        drop_on_receive: bool = False,
        ntlm_user_file: str | None = None,
    ) -> None:
        self.handler = handler
        self.auth = auth
        self.username = username
        self.password = password
        self.tls = tls
        self.chunk_size = chunk_size
        self.receive_delay_s = receive_delay_s
        self.timeout_first_receives = timeout_first_receives
        self.drop_on_receive = drop_on_receive
        self.ntlm_user_file = ntlm_user_file
        self.shells: dict[str, dict[str, Command]] = {}
        self.log = ServerLog()
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{port}/wsman"

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    def start(self) -> WSManServer:
        server = self

        class Handler(_Handler):
            wsman = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> WSManServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ protocol
    def dispatch(self, body: bytes) -> tuple[int, bytes]:
        root = ET.fromstring(body)
        header = root.find("s:Header", NS)
        action = _text(header, "a:Action")
        message_id = _text(header, "a:MessageID")
        name = next((k for k, v in ACTION_PREFIX.items() if v == action), action)
        with self.lock:
            self.log.actions.append(name)
        shell_id = None
        if header is not None:
            for selector in header.iter(f"{{{NS['w']}}}Selector"):
                if selector.get("Name") == "ShellId":
                    shell_id = selector.text
        body_el = root.find("s:Body", NS)
        if name == "Create":
            shell_id = str(uuid.uuid4()).upper()
            with self.lock:
                self.shells[shell_id] = {}
            return 200, _envelope(
                ACTION_PREFIX["Create"] + "Response", message_id,
                "<x:ResourceCreated xmlns:x=\"http://schemas.xmlsoap.org/ws/2004/09/transfer\">"
                "<a:ReferenceParameters><w:SelectorSet>"
                f"<w:Selector Name=\"ShellId\">{shell_id}</w:Selector>"
                "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>",
            )
        if shell_id not in self.shells:
            return 500, _fault(message_id, "w:InvalidSelectors", "The shell was not found.",
                               2150858843)
        shell = self.shells[shell_id]
        if name == "Delete":
            with self.lock:
                del self.shells[shell_id]
            return 200, _envelope(ACTION_PREFIX["Delete"] + "Response", message_id, "")
        if name == "Command":
            assert body_el is not None
            line = _text(body_el, "rsp:CommandLine/rsp:Command") or ""
            arguments = _text(body_el, "rsp:CommandLine/rsp:Arguments") or ""
            command_id = str(uuid.uuid4()).upper()
            command = Command(line=line.strip('"'), arguments=arguments)
            with self.lock:
                shell[command_id] = command
                self.log.commands.append(command)
            return 200, _envelope(
                ACTION_PREFIX["Command"] + "Response", message_id,
                f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>"
                "</rsp:CommandResponse>",
            )
        if name == "Send":
            assert body_el is not None
            stream = body_el.find("rsp:Send/rsp:Stream", NS)
            assert stream is not None
            command = shell[stream.get("CommandId", "")]
            command.stdin += base64.b64decode(stream.text or "")
            command.stdin_closed = stream.get("End", "false").lower() == "true"
            return 200, _envelope(ACTION_PREFIX["Send"] + "Response", message_id,
                                  "<rsp:SendResponse/>")
        if name == "Signal":
            assert body_el is not None
            signal = body_el.find("rsp:Signal", NS)
            assert signal is not None
            command = shell.get(signal.get("CommandId", ""))
            if command:
                command.terminated = True
            return 200, _envelope(ACTION_PREFIX["Signal"] + "Response", message_id,
                                  "<rsp:SignalResponse/>")
        if name == "Receive":
            return self._receive(shell, body_el, message_id)
        return 500, _fault(message_id, "a:ActionNotSupported", f"unsupported action {action}",
                           2150858753)

    def _receive(
        self, shell: dict[str, Command], body_el: Any, message_id: str
    ) -> tuple[int, bytes]:
        desired = body_el.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId")
        command = shell[command_id]
        with self.lock:
            self.log.receives += 1
            receives = self.log.receives
        if receives <= self.timeout_first_receives:
            return 500, _fault(message_id, "w:TimedOut", "The WS-Management service cannot "
                               "complete the operation within the time specified.",
                               TIMEOUT_FAULT_CODE)
        if command.result is None:
            command.result = self.handler(command.line, command.arguments, bytes(command.stdin))
        if command.result is None or command.terminated:
            time.sleep(self.receive_delay_s)
            return 200, _envelope(
                ACTION_PREFIX["Receive"] + "Response", message_id,
                f"<rsp:ReceiveResponse><rsp:CommandState CommandId=\"{command_id}\" "
                "State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
                "Running\"/></rsp:ReceiveResponse>",
            )
        out, err, rc = command.result
        size = self.chunk_size or max(len(out), len(err), 1)
        out_chunk = out[command.sent_out: command.sent_out + size]
        err_chunk = err[command.sent_err: command.sent_err + size]
        command.sent_out += len(out_chunk)
        command.sent_err += len(err_chunk)
        done = command.sent_out >= len(out) and command.sent_err >= len(err)
        streams = ""
        if out_chunk:
            streams += (f"<rsp:Stream Name=\"stdout\" CommandId=\"{command_id}\">"
                        f"{base64.b64encode(out_chunk).decode()}</rsp:Stream>")
        if err_chunk:
            streams += (f"<rsp:Stream Name=\"stderr\" CommandId=\"{command_id}\">"
                        f"{base64.b64encode(err_chunk).decode()}</rsp:Stream>")
        state = "Done" if done else "Running"
        exit_code = f"<rsp:ExitCode>{rc}</rsp:ExitCode>" if done else ""
        return 200, _envelope(
            ACTION_PREFIX["Receive"] + "Response", message_id,
            f"<rsp:ReceiveResponse>{streams}<rsp:CommandState CommandId=\"{command_id}\" "
            f"State=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
            f"{state}\">{exit_code}</rsp:CommandState></rsp:ReceiveResponse>",
        )


def _text(parent: Any, path: str) -> str:
    if parent is None:
        return ""
    node = parent.find(path, NS)
    return (node.text or "") if node is not None else ""


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
        f"<s:Header><a:Action>{action}</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault(relates_to: str, subcode: str, reason: str, wsman_code: int) -> bytes:
    return _envelope(
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to,
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>"
        f"<s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f"<s:Reason><s:Text xml:lang=\"en-US\">{reason}</s:Text></s:Reason>"
        f"<s:Detail><f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" "
        f"Code=\"{wsman_code}\" Machine=\"127.0.0.1\"><f:Message>{reason}</f:Message>"
        "</f:WSManFault></s:Detail></s:Fault>",
    )


class _Handler(BaseHTTPRequestHandler):
    """One HTTP connection; NTLM state lives here because NTLM authenticates a connection."""

    protocol_version = "HTTP/1.1"
    wsman: WSManServer

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        server = self.wsman
        if server.auth == "basic":
            expected = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
            header = self.headers.get("Authorization", "")
            if header != f"Basic {expected}":
                self._reply(401, b"", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
                return
            server.log.auth_schemes.append("Basic")
            self._handle_plain(body)
            return
        self._handle_ntlm(body)

    def _handle_plain(self, body: bytes) -> None:
        server = self.wsman
        server.log.plaintext_bodies += 1
        server.log.raw_bodies.append(body)
        if server.drop_on_receive and b"/shell/Receive<" in body:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, reply = server.dispatch(body)
        self._reply(status, reply, {"Content-Type": "application/soap+xml;charset=UTF-8"})

    # ----------------------------------------------------------------- NTLM + encryption
    def _handle_ntlm(self, body: bytes) -> None:
        import spnego

        server = self.wsman
        header = self.headers.get("Authorization", "")
        match = re.match(r"^(Negotiate|NTLM) (.+)$", header)
        context = getattr(self, "_ntlm", None)
        if match:
            server.log.auth_schemes.append(match.group(1))
            if context is None or context.complete:
                os.environ["NTLM_USER_FILE"] = server.ntlm_user_file or ""
                context = spnego.server(protocol="ntlm")
                self._ntlm = context
            try:
                out_token = context.step(base64.b64decode(match.group(2)))
            except Exception:  # a wrong password fails the NTLM authenticate message
                self._ntlm = None
                self._reply(401, b"", {"WWW-Authenticate": "Negotiate"})
                return
            if not context.complete:
                token = base64.b64encode(out_token or b"").decode()
                self._reply(401, b"", {"WWW-Authenticate": f"{match.group(1)} {token}"})
                return
        if context is None or not context.complete:
            self._reply(401, b"", {"WWW-Authenticate": "Negotiate"})
            return
        if not body:  # pywinrm's empty request that only completes authentication
            self._reply(200, b"")
            return
        content_type = self.headers.get("Content-Type", "")
        if "multipart/encrypted" not in content_type:
            # A Windows listener with AllowUnencrypted=false refuses plaintext over HTTP.
            server.log.plaintext_bodies += 1
            self._reply(400, b"unencrypted message refused")
            return
        server.log.encrypted_bodies += 1
        server.log.raw_bodies.append(body)
        plain = _decrypt(context, body)
        status, reply = server.dispatch(plain)
        payload = _encrypt(context, reply)
        self._reply(status, payload, {
            "Content-Type": f'multipart/encrypted;protocol="{NTLM_PROTOCOL.decode()}";'
                            'boundary="Encrypted Boundary"'})


def _decrypt(context: Any, body: bytes) -> bytes:
    parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
    header, payload = parts[0], parts[1]
    length = int(header.split(b"Length=")[1].strip())
    if payload.endswith(BOUNDARY + b"--\r\n"):
        payload = payload[: -len(BOUNDARY + b"--\r\n")]
    data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"")
    sig_len = struct.unpack("<i", data[:4])[0]
    signature, encrypted = data[4: 4 + sig_len], data[4 + sig_len:]
    plain = context.unwrap_winrm(signature, encrypted)
    assert len(plain) == length, "length mismatch: tampered message"
    return bytes(plain)


def _encrypt(context: Any, message: bytes) -> bytes:
    wrapped = context.wrap_winrm(message)
    stream = struct.pack("<i", len(wrapped.header)) + wrapped.header + wrapped.data
    return (
        BOUNDARY + b"\r\n\tContent-Type: " + NTLM_PROTOCOL + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode() + b"\r\n" + BOUNDARY + b"\r\n"
        b"\tContent-Type: application/octet-stream\r\n" + stream + BOUNDARY + b"--\r\n"
    )
