"""The WinRM connection (pywinrm): one WS-Management shell per host for the whole run.

Secure by default: HTTPS on 5986 with certificate validation (a CA bundle given by
`ca_trust_path`, else the system store); `server_cert_validation: ignore` only when
the inventory says so. Plain HTTP (5985) is allowed only with an auth method that
encrypts every message (NTLM, Kerberos, CredSSP); Basic over HTTP would send the
password and every command in clear and is refused.

The POSIX agent does not run here: Windows hosts get the PowerShell runner
(`pyengine.agent.powershell`), which uses `run_powershell` on this connection.
Large stdin is sent in pieces below WinRM's MaxEnvelopeSize, and output arrives in
the chunks of successive Receive calls, which pywinrm reassembles.
"""

from __future__ import annotations

import base64
import time
from typing import Any, ClassVar

from pyengine.connection.base import AgentChannel, CommandResult, CommandTimeout, Connection
from pyengine.errors import HostUnreachable, PyengineError

# Windows' default MaxEnvelopeSizekb is 500 (150 on old hosts); base64 in XML grows
# data by a third, so 96 KiB of stdin per Send stays under both limits.
STDIN_CHUNK = 96 * 1024
ENCRYPTING_TRANSPORTS = {"ntlm", "kerberos", "credssp"}
TRANSPORTS = {"basic", "ntlm", "kerberos", "credssp", "certificate", "ssl", "plaintext"}

POWERSHELL = ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass"]


def encode_powershell(script: str) -> str:
    """The -EncodedCommand form of a script (base64 of UTF-16LE), so no quoting is involved."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def winrm_options_from_vars(host: str, hostvars: dict[str, Any]) -> dict[str, Any]:
    """Map Ansible's inventory variables onto this connection's options."""
    mapping = {
        "ansible_host": "host",
        "ansible_port": "port",
        "ansible_user": "user",
        "ansible_password": "password",
        "ansible_winrm_password": "password",
        "ansible_winrm_transport": "transport",
        "ansible_winrm_scheme": "scheme",
        "ansible_winrm_path": "path",
        "ansible_winrm_server_cert_validation": "server_cert_validation",
        "ansible_winrm_ca_trust_path": "ca_trust_path",
        "ansible_winrm_message_encryption": "message_encryption",
        "ansible_winrm_connection_timeout": "connect_timeout",
        "ansible_winrm_read_timeout_sec": "read_timeout",
        "ansible_winrm_operation_timeout_sec": "operation_timeout",
        "ansible_winrm_cert_pem": "cert_pem",
        "ansible_winrm_cert_key_pem": "cert_key_pem",
        "ansible_winrm_retries": "retries",
    }
    options: dict[str, Any] = {}
    for var, option in mapping.items():
        if hostvars.get(var) is not None:
            options[option] = hostvars[var]
    options.setdefault("host", host)
    return options


class WinRMConnection(Connection):
    """A pywinrm Protocol plus one open shell; every command runs in that shell."""

    name = "winrm"
    OPTIONS: ClassVar[dict[str, str]] = {
        "host": "Address or name of the Windows host.",
        "port": "5986 for HTTPS (default), 5985 for HTTP.",
        "scheme": "https (default unless port is 5985) or http.",
        "path": "WS-Management path, /wsman by default.",
        "user": "Account to log in with (DOMAIN\\user or user@REALM for domain accounts).",
        "password": "Its password (from a vault; never logged).",
        "transport": "ntlm (default), kerberos, credssp, basic (HTTPS only), certificate.",
        "server_cert_validation": "validate (default) or ignore.",
        "ca_trust_path": "CA bundle to validate the host certificate (default: system store).",
        "message_encryption": "auto (default: encrypt over HTTP), always or never.",
        "connect_timeout": "Seconds to wait for the first response (default 30).",
        "read_timeout": "HTTP read timeout in seconds (default 30; above operation_timeout).",
        "operation_timeout": "WS-Management operation timeout in seconds (default 20).",
        "cert_pem": "Client certificate for certificate auth.",
        "cert_key_pem": "Key of the client certificate.",
        "retries": "Times to retry opening the shell on transient errors (default 3).",
        "allow_unencrypted_basic": "Allow Basic auth over plain HTTP (insecure; default no).",
    }

    def __init__(self, host: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(host, options)
        if self.options.get("password"):
            from pyengine.masking import register_secret

            register_secret(str(self.options["password"]))  # never shown, vaulted or not
        self._protocol: Any = None
        self._shell_id: str | None = None

    # ------------------------------------------------------------------ settings
    @property
    def endpoint(self) -> str:
        port = int(self.option("port", 5986))
        scheme = str(self.option("scheme", "http" if port == 5985 else "https")).lower()
        path = str(self.option("path", "/wsman"))
        address = self.option("host", self.host)
        return f"{scheme}://{address}:{port}{path}"

    def _check_security(self) -> tuple[str, str]:
        transport = str(self.option("transport", "ntlm")).lower()
        if transport not in TRANSPORTS:
            raise PyengineError(
                f"{self.host}: unknown WinRM transport {transport!r} "
                f"(expected one of {', '.join(sorted(TRANSPORTS))})"
            )
        https = self.endpoint.startswith("https://")
        encryption = str(self.option("message_encryption", "auto")).lower()
        if not https:
            if transport not in ENCRYPTING_TRANSPORTS and not self.option(
                "allow_unencrypted_basic", False
            ):
                raise PyengineError(
                    f"{self.host}: WinRM over HTTP with {transport} auth would send the password "
                    "and every command in clear; use HTTPS (port 5986) or ntlm/kerberos/credssp"
                )
            if transport in ENCRYPTING_TRANSPORTS and encryption == "never":
                raise PyengineError(
                    f"{self.host}: message_encryption=never over HTTP sends commands in clear; "
                    "use HTTPS or leave message_encryption at auto"
                )
        return transport, encryption

    # ------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        if self._shell_id:
            return
        import winrm
        from requests.exceptions import RequestException, SSLError
        from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError

        transport, encryption = self._check_security()
        validation = str(self.option("server_cert_validation", "validate")).lower()
        operation_timeout = int(self.option("operation_timeout", 20))
        read_timeout = int(self.option("read_timeout", max(30, operation_timeout + 10)))
        kwargs: dict[str, Any] = {
            "transport": transport,
            "username": self.option("user"),
            "password": self.option("password"),
            "server_cert_validation": "ignore" if validation == "ignore" else "validate",
            "message_encryption": encryption,
            "read_timeout_sec": read_timeout,
            "operation_timeout_sec": operation_timeout,
        }
        if self.option("ca_trust_path"):
            kwargs["ca_trust_path"] = str(self.option("ca_trust_path"))
        if self.option("cert_pem"):
            kwargs["cert_pem"] = str(self.option("cert_pem"))
            kwargs["cert_key_pem"] = str(self.option("cert_key_pem"))
        retries = int(self.option("retries", 3))
        last: Exception | None = None
        for attempt in range(retries + 1):
            try:
                self._protocol = winrm.Protocol(self.endpoint, **kwargs)
                self._shell_id = self._protocol.open_shell(codepage=65001)
                return
            except InvalidCredentialsError:
                raise HostUnreachable(
                    self.host, "WinRM login refused (user or password wrong)"
                ) from None
            except SSLError as err:
                raise HostUnreachable(
                    self.host,
                    f"TLS certificate of {self.endpoint} not trusted ({_short(err)}); give the CA "
                    "with ansible_winrm_ca_trust_path (server_cert_validation: ignore only "
                    "for labs)",
                ) from None
            except WinRMTransportError as err:
                last = err
                if not str(getattr(err, "code", "")).startswith("5"):
                    break
            except (RequestException, WinRMError, OSError) as err:
                last = err
            time.sleep(min(0.5 * 2**attempt, 5))
        raise HostUnreachable(self.host, f"WinRM {self.endpoint}: {_short(last)}")

    @property
    def connected(self) -> bool:
        return self._shell_id is not None

    def close(self) -> None:
        if self._protocol is not None and self._shell_id is not None:
            try:
                self._protocol.close_shell(self._shell_id)
            except Exception:  # closing a dead shell must not mask the run's result
                pass
        self._shell_id = None
        self._protocol = None

    # ------------------------------------------------------------------ commands
    def run(
        self, argv: list[str], data: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run argv in the shell (arguments are joined by WinRM as one command line)."""
        from requests.exceptions import RequestException
        from winrm.exceptions import WinRMOperationTimeoutError

        self.connect()
        protocol, shell_id = self._protocol, self._shell_id
        try:
            command_id = protocol.run_command(shell_id, argv[0], argv[1:], skip_cmd_shell=True)
        except (RequestException, OSError) as exc:
            self._shell_id = None
            raise HostUnreachable(self.host, f"connection dropped: {_short(exc)}") from None
        try:
            if data is not None:
                for start in range(0, max(len(data), 1), STDIN_CHUNK):
                    piece = data[start: start + STDIN_CHUNK]
                    protocol.send_command_input(
                        shell_id, command_id, piece, end=start + STDIN_CHUNK >= len(data)
                    )
            deadline = time.monotonic() + timeout if timeout else None
            out: list[bytes] = []
            errs: list[bytes] = []
            while True:
                if deadline and time.monotonic() > deadline:
                    raise CommandTimeout(f"{self.host}: {argv[0]} did not finish in {timeout}s")
                try:
                    stdout, stderr, rc, done = protocol.get_command_output_raw(shell_id, command_id)
                except WinRMOperationTimeoutError:
                    continue  # nothing new within the operation timeout; keep waiting
                out.append(stdout)
                errs.append(stderr)
                if done:
                    return CommandResult(rc, b"".join(out), b"".join(errs))
        except (RequestException, OSError) as exc:
            self._shell_id = None
            raise HostUnreachable(self.host, f"connection dropped: {_short(exc)}") from None
        finally:
            if self._shell_id is not None:
                try:
                    protocol.cleanup_command(shell_id, command_id)
                except Exception:  # the command may already be gone; nothing to clean
                    pass

    def run_powershell(
        self, script: str, data: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run a PowerShell script given as data (-EncodedCommand), with `data` on stdin."""
        return self.run([*POWERSHELL, "-EncodedCommand", encode_powershell(script)], data, timeout)

    def put(self, data: bytes, path: str, mode: int | None = None) -> None:
        """Write a file atomically: stdin (base64) → temp file beside it → move over."""
        script = (
            "$ErrorActionPreference = 'Stop'\n"
            "$req = [Console]::In.ReadToEnd() | ConvertFrom-Json\n"
            "$bytes = [Convert]::FromBase64String($req.data)\n"
            "$tmp = $req.path + '.pyengine-tmp'\n"
            "[IO.File]::WriteAllBytes($tmp, $bytes)\n"
            "Move-Item -LiteralPath $tmp -Destination $req.path -Force\n"
        )
        import json

        payload = json.dumps({"path": path, "data": base64.b64encode(data).decode()}).encode()
        result = self.run_powershell(script, payload)
        if result.rc != 0:
            raise PyengineError(f"{self.host}: writing {path} failed: {_first_line(result)}")

    def get(self, path: str) -> bytes:
        script = (
            "$ErrorActionPreference = 'Stop'\n"
            "$path = [Console]::In.ReadToEnd()\n"
            "[Convert]::ToBase64String([IO.File]::ReadAllBytes($path.Trim()))\n"
        )
        result = self.run_powershell(script, path.encode())
        if result.rc != 0:
            raise PyengineError(f"{self.host}: reading {path} failed: {_first_line(result)}")
        return base64.b64decode(result.stdout.strip())

    def open_agent(self, argv: list[str]) -> AgentChannel:
        raise PyengineError(
            f"{self.host}: Windows hosts run modules through the PowerShell runner, "
            "not the Python agent"
        )


def _short(err: object) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:300]


def _first_line(result: CommandResult) -> str:
    text = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else f"rc={result.rc}"
