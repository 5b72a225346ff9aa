"""The WinRM connection against tests/wsman_server.py (a WS-Management server on loopback).

No Windows host exists here; the server speaks the WS-Management shell protocol with
Basic auth over HTTPS or NTLM with message encryption over HTTP, and answers commands
from Python. What is asserted is the wire behaviour: auth, certificate checks,
encryption, chunked output, stdin pieces, exit codes, timeouts and dropped connections.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from wsman_server import WSManServer

from pyengine.connection.base import CommandTimeout
from pyengine.connection.winrm import WinRMConnection, encode_powershell, winrm_options_from_vars
from pyengine.errors import HostUnreachable, PyengineError

USER, PASSWORD = "Administrator", "Passw0rd!"


def echo_handler(line: str, arguments: str, stdin: bytes) -> tuple[bytes, bytes, int]:
    if "exit7" in arguments:
        return b"", b"boom\n", 7
    return f"{line} {arguments}|".encode() + stdin, b"", 0


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A CA and a server certificate for 127.0.0.1, made for this test run."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyengine test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context, folder / "ca.pem"


@pytest.fixture
def https_server(tls: tuple[ssl.SSLContext, Path]) -> Iterator[WSManServer]:
    with WSManServer(echo_handler, auth="basic", tls=tls[0]) as server:
        yield server


@pytest.fixture
def ntlm_server(tmp_path: Path) -> Iterator[WSManServer]:
    users = tmp_path / "ntlm-users"
    users.write_text(f"WIN:{USER}:{PASSWORD}\n")
    with WSManServer(echo_handler, auth="ntlm", ntlm_user_file=str(users), chunk_size=64) as s:
        yield s


def _https(server: WSManServer, ca: Path | None, **extra: object) -> WinRMConnection:
    options: dict = {"host": "127.0.0.1", "port": server.port, "scheme": "https",
                     "transport": "basic", "user": USER, "password": PASSWORD, "retries": 0}
    if ca:
        options["ca_trust_path"] = str(ca)
    options.update(extra)
    return WinRMConnection("win1", options)


def test_https_with_our_ca_runs_commands(https_server: WSManServer,
                                         tls: tuple[ssl.SSLContext, Path]) -> None:
    with _https(https_server, tls[1]) as conn:
        result = conn.run(["cmd.exe", "/c", "echo"], data=b"in")
        assert (result.rc, result.stdout) == (0, b"cmd.exe /c echo|in")
        assert conn.run(["cmd.exe", "exit7"]).rc == 7
    assert https_server.log.auth_schemes[0] == "Basic"
    assert https_server.log.actions[0] == "Create" and https_server.log.actions[-1] == "Delete"
    assert https_server.log.actions.count("Create") == 1  # one shell for every command


def test_untrusted_certificate_is_refused_by_default(https_server: WSManServer) -> None:
    with pytest.raises(HostUnreachable, match="not trusted"):
        _https(https_server, None).connect()
    assert https_server.log.actions == []


def test_validation_ignore_only_when_asked(https_server: WSManServer) -> None:
    with _https(https_server, None, server_cert_validation="ignore") as conn:
        assert conn.run(["hostname"]).rc == 0


def test_wrong_password_is_one_clear_error(https_server: WSManServer,
                                          tls: tuple[ssl.SSLContext, Path]) -> None:
    with pytest.raises(HostUnreachable, match="login refused"):
        _https(https_server, tls[1], password="nope").connect()


def test_basic_over_http_is_refused_before_connecting() -> None:
    conn = WinRMConnection("win1", {"host": "127.0.0.1", "port": 5985, "transport": "basic",
                                    "user": USER, "password": PASSWORD})
    with pytest.raises(PyengineError, match="in clear"):
        conn.connect()


def test_ntlm_over_http_encrypts_every_message(ntlm_server: WSManServer) -> None:
    conn = WinRMConnection("win1", {"host": "127.0.0.1", "port": ntlm_server.port,
                                    "scheme": "http", "transport": "ntlm",
                                    "user": f"WIN\\{USER}", "password": PASSWORD})
    with conn:
        result = conn.run(["cmd.exe", "/c", "type", "secret-marker-xyz"], data=b"payload-abc")
    assert result.stdout == b"cmd.exe /c type secret-marker-xyz|payload-abc"
    log = ntlm_server.log
    assert log.plaintext_bodies == 0 and log.encrypted_bodies >= 5
    assert all(b"secret-marker-xyz" not in body and b"payload-abc" not in body
               for body in log.raw_bodies)
    assert "Negotiate" in log.auth_schemes or "NTLM" in log.auth_schemes


def test_chunked_output_and_large_stdin_arrive_whole(tls: tuple[ssl.SSLContext, Path]) -> None:
    big_out = bytes(range(256)) * 2000  # 512 KB over many Receive responses

    def handler(line: str, arguments: str, stdin: bytes) -> tuple[bytes, bytes, int]:
        return big_out, stdin[:10], 0

    stdin = b"x" * (300 * 1024)
    with WSManServer(handler, auth="basic", tls=tls[0], chunk_size=32 * 1024) as server:
        with _https(server, tls[1]) as conn:
            result = conn.run(["powershell.exe"], data=stdin)
        assert result.stdout == big_out and result.stderr == b"x" * 10
        assert server.log.actions.count("Send") == 4  # 300 KiB in 96 KiB pieces
        assert server.log.commands[0].stdin == stdin
        assert server.log.receives >= 16


def test_operation_timeouts_are_waited_through(tls: tuple[ssl.SSLContext, Path]) -> None:
    with WSManServer(echo_handler, auth="basic", tls=tls[0], timeout_first_receives=2) as s:
        with _https(s, tls[1]) as conn:
            assert conn.run(["cmd.exe"]).rc == 0
        assert s.log.receives == 3


def test_command_timeout_signals_terminate(tls: tuple[ssl.SSLContext, Path]) -> None:
    with WSManServer(lambda *a: None, auth="basic", tls=tls[0], receive_delay_s=0.2) as server:
        with _https(server, tls[1]) as conn:
            with pytest.raises(CommandTimeout, match="did not finish in 1"):
                conn.run(["sleep-forever.exe"], timeout=1)
        assert "Signal" in server.log.actions
        assert server.log.commands[0].terminated


def test_dropped_connection_is_unreachable(tls: tuple[ssl.SSLContext, Path]) -> None:
    with WSManServer(echo_handler, auth="basic", tls=tls[0], drop_on_receive=True) as server:
        conn = _https(server, tls[1])
        with pytest.raises(HostUnreachable, match="connection dropped"):
            conn.run(["cmd.exe"])
        conn.close()


def test_nothing_listening_is_unreachable() -> None:
    conn = WinRMConnection("win1", {"host": "127.0.0.1", "port": 1, "scheme": "https",
                                    "transport": "basic", "user": USER, "password": PASSWORD,
                                    "retries": 0})
    with pytest.raises(HostUnreachable, match="WinRM https://127.0.0.1:1/wsman"):
        conn.connect()


def test_put_and_get_send_data_not_script_text(https_server: WSManServer,
                                               tls: tuple[ssl.SSLContext, Path]) -> None:
    with _https(https_server, tls[1]) as conn:
        conn.put(b"a'b\"c$d`e\n", "C:\\Temp\\x.txt")
    command = https_server.log.commands[0]
    assert command.line == "powershell.exe" and "-EncodedCommand" in command.arguments
    script = command.arguments.split("-EncodedCommand ")[1]
    assert "C:\\Temp" not in script  # the path travels on stdin as JSON, not in the script
    assert b'"path": "C:\\\\Temp\\\\x.txt"' in command.stdin


def test_inventory_variables_map_to_options() -> None:
    options = winrm_options_from_vars("win1", {
        "ansible_host": "10.0.0.5", "ansible_port": 5986, "ansible_user": "svc",
        "ansible_password": "pw", "ansible_winrm_transport": "ntlm",
        "ansible_winrm_server_cert_validation": "ignore", "unrelated": 1})
    assert options == {"host": "10.0.0.5", "port": 5986, "user": "svc", "password": "pw",
                       "transport": "ntlm", "server_cert_validation": "ignore"}
    assert WinRMConnection("win1", options).endpoint == "https://10.0.0.5:5986/wsman"


def test_encoded_command_is_utf16le_base64() -> None:
    import base64

    assert base64.b64decode(encode_powershell("Write-Output 'ü'")).decode("utf-16-le") == (
        "Write-Output 'ü'")
