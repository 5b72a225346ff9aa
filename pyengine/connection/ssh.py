"""The `ssh` connection on paramiko: one transport per host for the whole run.

Every command, file transfer and the agent use channels of that one transport, so a
host costs one TCP + key exchange + authentication per run. The host key is checked
(`known_hosts.py`) before any credential is sent. A jump host is a constructor
argument (`gateway=`, Fabric's name): the target's TCP stream is a `direct-tcpip`
channel of the jump host's transport, as `ssh -J` does.
"""

from __future__ import annotations

import functools
import json
import logging
import shlex
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pyengine.booleans import is_true
from pyengine.connection._paramiko import paramiko
from pyengine.connection._stderr import StderrDrain
from pyengine.connection.base import AgentChannel, CommandResult, CommandTimeout, Connection
from pyengine.connection.known_hosts import KnownHosts
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.masking import register_secret
from pyengine.paths import expand_user

# paramiko logs each failed handshake with a traceback at ERROR; we report it in one line.
logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)

DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


WRITE_CHUNK = 1 << 20


class SSHAgentChannel(AgentChannel):
    """One exec channel: stdout read here, stderr drained by a thread."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self._stderr = StderrDrain(self._recv_stderr, "ssh-agent-stderr")

    def _recv_stderr(self) -> bytes:
        while True:
            try:
                return self.channel.recv_stderr(65536)
            except TimeoutError:  # the channel timeout set for a stdout read; keep going
                continue

    def write(self, data: bytes) -> None:
        # paramiko's sendall re-slices the remaining bytes after every packet, which is
        # quadratic in the message size (a 40 MB copy took 43 s); feed it 1 MiB views.
        view = memoryview(data)
        try:
            for start in range(0, len(view), WRITE_CHUNK):
                self.channel.sendall(bytes(view[start: start + WRITE_CHUNK]))
        except (OSError, paramiko.SSHException) as err:
            raise EOFError(f"channel closed: {err}") from err

    def read(self, n: int, timeout: float | None = None) -> bytes:
        self.channel.settimeout(timeout)
        try:
            return self.channel.recv(n)
        except TimeoutError as err:
            raise TimeoutError(f"no output within {timeout:g}s") from err
        finally:
            self.channel.settimeout(None)

    def read_stderr(self, timeout: float = 0.0) -> bytes | None:
        return self._stderr.read(timeout)

    def stderr_so_far(self) -> bytes:
        return self._stderr.so_far()

    def exit_status(self, timeout: float = 0.0) -> int | None:
        deadline = time.monotonic() + timeout
        while not self.channel.exit_status_ready():
            if time.monotonic() >= deadline or self.channel.closed:
                return None
            time.sleep(0.02)
        return self.channel.recv_exit_status()

    def close(self) -> None:
        try:
            self.channel.shutdown_write()  # EOF on the agent's stdin: it cleans up and exits
        except (OSError, paramiko.SSHException, EOFError):
            pass
        # Not waited for (the user would wait a round trip per host for nothing): an agent
        # told to exit, or seeing EOF between tasks, is gone within milliseconds; one stuck
        # in a task finishes it, then finds the channel closed. Either way it leaves nothing.
        self.channel.close()


class SSHConnection(Connection):
    """SSH to one host through paramiko; `gateway` is the jump host's connection, if any."""

    name = "ssh"
    OPTIONS: ClassVar[dict[str, str]] = {
        "host": "Address or DNS name to connect to (ansible_host); default: the host's name.",
        "port": "TCP port of sshd (ansible_port); default 22.",
        "user": "Remote user (ansible_user); default: the controller's user.",
        "password": "Password for password/keyboard-interactive auth (ansible_password).",
        "private_key_file": "Private key file(s) (ansible_ssh_private_key_file); str or list.",
        "private_key_passphrase": "Passphrase of the private key files, if encrypted.",
        "allow_agent": "Try the keys of a running ssh-agent (default true).",
        "look_for_keys": "Try ~/.ssh/id_ed25519, id_ecdsa, id_rsa (default true).",
        "known_hosts_file": "The project's known_hosts file: checked first; trust-on-first-use"
        " records new keys here (pyengine_known_hosts).",
        "user_known_hosts": "Also check ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts"
        " (default true).",
        "host_key_checking": "strict (default: unknown keys refused) or tofu (unknown keys are"
        " recorded on first use). Changed keys are always refused.",
        "connect_timeout": "Seconds to reach sshd and finish authentication (default 10).",
        "command_timeout": "Seconds a command run by run() may take (default: no limit).",
        "keepalive_interval": "Seconds between SSH keepalives; TCP keepalive probes too"
        " (default 15, 0 disables).",
        "keepalive_count_max": "Unanswered TCP keepalive probes before the host is declared"
        " gone (default 3).",
        "proxy_jump": "Jump host(s) as [user@]host[:port][,...] (ProxyJump / -J);"
        " ignored when a gateway connection is given.",
    }

    def __init__(
        self,
        host: str,
        options: dict[str, Any] | None = None,
        gateway: SSHConnection | None = None,
    ) -> None:
        super().__init__(host, options)
        self.gateway = gateway
        self._own_gateways: list[SSHConnection] = []
        self.transport: paramiko.Transport | None = None
        self.tunnels_opened = 0  # direct-tcpip channels opened on this transport (as a jump)
        self._lock = threading.Lock()
        self._agent_channels: list[SSHAgentChannel] = []
        if self.option("password"):
            register_secret(str(self.option("password")))

    # -- options ---------------------------------------------------------------------
    @property
    def address(self) -> str:
        return str(self.option("host", self.host))

    @property
    def port(self) -> int:
        return int(self.option("port", 22))

    @property
    def user(self) -> str:
        import getpass

        return str(self.option("user") or getpass.getuser())

    def _known_hosts(self) -> KnownHosts:
        return KnownHosts.from_options(
            self.option("known_hosts_file"),
            use_user_files=_bool(self.option("user_known_hosts", True)),
            policy=self.option("host_key_checking"),
        )

    # -- connect ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.transport is not None and self.transport.is_active()

    def connect(self) -> None:
        """Open the transport; after a loss (a reboot) this opens a new one."""
        with self._lock:
            if self.connected:
                return
            if self.transport is not None:
                self.transport.close()
                self.transport = None
            self.transport = self._open()

    def _open(self) -> paramiko.Transport:
        timeout = float(self.option("connect_timeout", 10))
        where = f"{self.address}:{self.port}"
        known = self._known_hosts()
        started = time.perf_counter()
        sock = self._sock(timeout)
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = timeout
            transport.handshake_timeout = timeout
            transport.auth_timeout = timeout
            preferred = known.preferred_key_types(self.address, self.port)
            if preferred:
                options = transport.get_security_options()
                wanted: list[str] = []
                for kind in preferred:
                    wanted += list(_RSA_ALGORITHMS) if kind == "ssh-rsa" else [kind]
                offered = list(options.key_types)
                first = [k for k in wanted if k in offered]
                options.key_types = tuple(first + [k for k in offered if k not in first])
            try:
                transport.start_client(timeout=timeout)
            except (paramiko.SSHException, EOFError, OSError) as err:
                reason = str(err) or type(err).__name__
                if "banner" in reason:
                    reason = "the connection closed before sshd's banner (is sshd running?)"
                raise HostUnreachable(
                    self.host, f"SSH handshake with {where} failed: {reason}"
                ) from err
            if not (transport.is_active() and transport.initial_kex_done):
                # start_client returns quietly when its timeout ends mid-handshake.
                raise HostUnreachable(
                    self.host, f"SSH handshake with {where} timed out after {timeout:g}s"
                )
            known.verify(self.host, self.address, self.port, transport.get_remote_server_key())
            authenticating = time.perf_counter()
            _add_phase(self.phases, "connect", authenticating - started)
            self._authenticate(transport)
            _add_phase(self.phases, "auth", time.perf_counter() - authenticating)
            interval = int(self.option("keepalive_interval", 15))
            if interval > 0:
                transport.set_keepalive(interval)
            return transport
        except BaseException:
            transport.close()
            raise

    def _sock(self, timeout: float) -> Any:
        where = f"{self.address}:{self.port}"
        if self.gateway is None and self.option("proxy_jump"):
            self.gateway = self._gateway_chain(str(self.option("proxy_jump")))
        if self.gateway is not None:
            return self.gateway.open_tunnel(self.address, self.port, timeout, for_host=self.host)
        try:
            sock = socket.create_connection((self.address, self.port), timeout=timeout)
        except TimeoutError as err:
            raise HostUnreachable(self.host, f"connect to {where} timed out after {timeout:g}s") \
                from err
        except ConnectionRefusedError as err:
            raise HostUnreachable(self.host, f"connection to {where} refused (is sshd running?)") \
                from err
        except socket.gaierror as err:
            raise HostUnreachable(self.host, f"cannot resolve {self.address}: {err}") from err
        except OSError as err:
            raise HostUnreachable(self.host, f"cannot connect to {where}: {err}") from err
        # Small request/response exchanges are the whole protocol: without TCP_NODELAY,
        # Nagle's algorithm holds each small write for the peer's delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._tcp_keepalive(sock)
        return sock

    def _tcp_keepalive(self, sock: socket.socket) -> None:
        """Let the kernel notice a peer that vanished without closing (cable, reboot)."""
        interval = int(self.option("keepalive_interval", 15))
        if interval <= 0:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", interval),
            ("TCP_KEEPINTVL", interval),
            ("TCP_KEEPCNT", int(self.option("keepalive_count_max", 3))),
        ):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    def _gateway_chain(self, spec: str) -> SSHConnection:
        """Connections for `a,b,c` (ProxyJump): each reached through the one before.

        Jump hosts are shared: every host of the run behind the same bastion (same user,
        keys and known_hosts) tunnels through one transport to it.
        """
        gateway: SSHConnection | None = None
        chain: list[str] = []
        for hop in [h.strip() for h in spec.split(",") if h.strip()]:
            user, address, port = parse_jump(hop)
            options = {k: v for k, v in self.options.items()
                       if k not in ("proxy_jump", "host", "port", "user")}
            options.update({"host": address, "port": port, "user": user or self.option("user")})
            chain.append(f"{options['user']}@{address}:{port}")
            gateway = GATEWAYS.acquire(tuple(chain), options,
                                       functools.partial(SSHConnection, f"jump {hop}", options,
                                                         gateway=gateway))
            self._own_gateways.append(gateway)
        assert gateway is not None
        return gateway

    def open_tunnel(
        self, address: str, port: int, timeout: float, for_host: str = ""
    ) -> paramiko.Channel:
        """A direct-tcpip channel to address:port, opened by this host (as a jump host)."""
        try:
            self.connect()
        except HostUnreachable as err:
            raise type(err)(for_host or self.host,
                            f"jump host {self.address}:{self.port}: {err.reason}") from err
        assert self.transport is not None
        try:
            channel = self.transport.open_channel(
                "direct-tcpip", (address, port), ("127.0.0.1", 0), timeout=timeout
            )
        except (paramiko.SSHException, OSError, EOFError) as err:
            raise HostUnreachable(
                for_host or self.host,
                f"jump host {self.address}:{self.port} could not reach {address}:{port}: {err}",
            ) from err
        self.tunnels_opened += 1
        return channel

    def _authenticate(self, transport: paramiko.Transport) -> None:
        user = self.user
        tried: list[str] = []
        passphrase = self.option("private_key_passphrase")

        def attempt(label: str, key: paramiko.PKey) -> bool:
            tried.append(label)
            try:
                _auth_publickey(transport, user, key)
            except paramiko.AuthenticationException:
                return False
            except paramiko.SSHException as err:
                raise HostUnreachable(self.host, f"authentication failed: {err}") from err
            return transport.is_authenticated()

        key_files = self.option("private_key_file") or []
        if isinstance(key_files, str):
            key_files = [key_files]
        for name in key_files:
            path = expand_user(str(name))
            key = _load_key(self.host, path, passphrase, required=True)
            if key is not None and attempt(f"key {path}", key):
                return
        if _bool(self.option("allow_agent", True)):
            try:
                agent_keys = paramiko.Agent().get_keys()
            except paramiko.SSHException:
                agent_keys = ()
            for key in agent_keys:
                if attempt(f"ssh-agent {key.get_name()}", key):
                    return
        if _bool(self.option("look_for_keys", True)) and not key_files:
            for name in DEFAULT_KEY_FILES:
                path = expand_user(name)
                key = _load_key(self.host, path, passphrase, required=False)
                if key is not None and attempt(f"key {path}", key):
                    return
        password = self.option("password")
        if password is not None:
            tried.append("password")
            if self._password_auth(transport, user, str(password)):
                return
        methods = ", ".join(tried) or "no credentials given"
        raise HostUnreachable(
            self.host, f"authentication as {user!r} on {self.address}:{self.port} failed"
            f" (tried: {methods})"
        )

    @staticmethod
    def _password_auth(transport: paramiko.Transport, user: str, password: str) -> bool:
        try:
            transport.auth_password(user, password)
        except paramiko.BadAuthenticationType as err:
            if "keyboard-interactive" not in err.allowed_types:
                return False
            try:
                transport.auth_interactive(
                    user, lambda _title, _instr, prompts: [password for _ in prompts]
                )
            except paramiko.AuthenticationException:
                return False
        except paramiko.AuthenticationException:
            return False
        return transport.is_authenticated()

    # -- channels --------------------------------------------------------------------
    def _session(self, timeout: float | None = None) -> paramiko.Channel:
        self.connect()
        assert self.transport is not None
        try:
            return self.transport.open_session(timeout=timeout or 30.0)
        except (paramiko.SSHException, OSError, EOFError) as err:
            raise HostUnreachable(self.host, f"cannot open a channel: {err}") from err

    def run(
        self, argv: list[str], data: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        timeout = timeout if timeout is not None else self.option("command_timeout")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        channel = self._session()
        try:
            try:
                channel.exec_command(shlex.join(argv))
            except (paramiko.SSHException, OSError, EOFError) as err:
                raise HostUnreachable(self.host, f"cannot run {argv[0]!r}: {err}") from err
            writer = threading.Thread(target=_feed, args=(channel, data or b""), daemon=True)
            writer.start()
            stderr = StderrDrain(lambda: _recv_quiet(channel.recv_stderr), "ssh-run-stderr")
            out = bytearray()
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise CommandTimeout(
                        f"{self.host}: command {argv[0]!r} did not finish within {timeout:g}s"
                    )
                channel.settimeout(None if left is None else min(left, 1.0))
                try:
                    chunk = channel.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                out += chunk
            stderr.wait_ended(5.0)
            while not channel.exit_status_ready():
                if not self.connected:
                    raise HostUnreachable(self.host, "connection lost while running a command")
                time.sleep(0.005)
            return CommandResult(channel.recv_exit_status(), bytes(out), stderr.so_far())
        finally:
            channel.close()

    def put(self, data: bytes, path: str, mode: int | None = None) -> None:
        script = 'umask 077 && cat > "$1"'
        argv = ["/bin/sh", "-c", script, "sh", path]
        if mode is not None:
            argv = ["/bin/sh", "-c", script + ' && chmod "$2" "$1"', "sh", path, f"{mode:o}"]
        result = self.run(argv, data=data)
        if result.rc != 0:
            raise PyengineError(f"{self.host}: cannot write {path}: {_first_line(result)}")

    def get(self, path: str) -> bytes:
        result = self.run(["cat", "--", path])
        if result.rc != 0:
            raise PyengineError(f"{self.host}: cannot read {path}: {_first_line(result)}")
        return result.stdout

    def open_agent(self, argv: list[str]) -> AgentChannel:
        channel = self._session()
        try:
            channel.exec_command(shlex.join(argv))
        except (paramiko.SSHException, OSError, EOFError) as err:
            channel.close()
            raise HostUnreachable(self.host, f"cannot start the agent: {err}") from err
        agent = SSHAgentChannel(channel)
        self._agent_channels.append(agent)
        return agent

    def close(self) -> None:
        channels, self._agent_channels = self._agent_channels, []
        for agent in channels:
            try:
                agent.close()
            except Exception:  # closing is best effort: the peer may be gone
                pass
        if self.transport is not None:
            self.transport.close()
        gateways, self._own_gateways = self._own_gateways, []
        if gateways:
            self.gateway = None  # pooled: a later connect() acquires the chain again
        for gateway in reversed(gateways):
            GATEWAYS.release(gateway)


class GatewayPool:
    """Jump-host connections shared by the targets behind them, closed with the last one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] = {}  # key -> [connection, users]

    @staticmethod
    def _key(chain: tuple[str, ...], options: dict[str, Any]) -> str:
        return json.dumps([list(chain), sorted((k, str(v)) for k, v in options.items())])

    def acquire(
        self, chain: tuple[str, ...], options: dict[str, Any],
        factory: Callable[[], SSHConnection],
    ) -> SSHConnection:
        key = self._key(chain, options)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (entry[0].transport is not None and not entry[0].connected):
                entry = self._entries[key] = [factory(), 0]
            entry[1] += 1
            connection: SSHConnection = entry[0]
            return connection

    def release(self, connection: SSHConnection) -> None:
        with self._lock:
            for key, entry in list(self._entries.items()):
                if entry[0] is connection:
                    entry[1] -= 1
                    if entry[1] > 0:
                        return
                    del self._entries[key]
                    break
        connection.close()


GATEWAYS = GatewayPool()


def _add_phase(phases: dict[str, float], name: str, seconds: float) -> None:
    phases[name] = phases.get(name, 0.0) + seconds


class _OneTripAuth(paramiko.auth_handler.AuthHandler):
    """Public-key authentication in one round trip instead of two: the signed userauth
    request follows the service request without waiting for sshd's acceptance (sshd
    handles them in order; the signature needs only the session id, known since the key
    exchange). Not for RSA keys: their signature algorithm may depend on the server's
    ext-info, which arrives with the acceptance."""

    answered = False

    def _request_auth(self) -> None:
        super()._request_auth()  # type: ignore[misc]
        if self.auth_method == "publickey":
            accepted = paramiko.Message()
            accepted.add_string("ssh-userauth")
            accepted.rewind()
            super()._parse_service_accept(accepted)  # type: ignore[misc]
            self.answered = True

    def _parse_service_accept(self, m: paramiko.Message) -> None:
        if not self.answered:  # the userauth request went out with the service request
            super()._parse_service_accept(m)  # type: ignore[misc]


def _auth_publickey(transport: paramiko.Transport, user: str, key: paramiko.PKey) -> None:
    """`Transport.auth_publickey`, in one round trip for non-RSA key files (`_OneTripAuth`).
    A key held by ssh-agent takes the usual two: signing it early left the agent's reply
    unread and the connection hanging (tests/lab/test_ssh_connection.py::test_ssh_agent_auth)."""
    if "rsa" in key.get_name() or isinstance(key, paramiko.AgentKey):
        transport.auth_publickey(user, key)
        return
    event = threading.Event()
    handler = _OneTripAuth(transport)
    transport.auth_handler = handler
    handler.auth_publickey(user, key, event)
    handler.wait_for_response(event)


def _feed(channel: paramiko.Channel, data: bytes) -> None:
    try:
        if data:
            channel.sendall(data)
        channel.shutdown_write()
    except (OSError, paramiko.SSHException, EOFError):
        pass


def _recv_quiet(recv: Any) -> bytes:
    while True:
        try:
            chunk: bytes = recv(65536)
            return chunk
        except TimeoutError:
            continue


def _first_line(result: CommandResult) -> str:
    text = result.stderr.decode("utf-8", "replace").strip() or f"exit {result.rc}"
    return text.splitlines()[-1]


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return is_true(value)
    return bool(value)


def _load_key(
    host: str, path: Path, passphrase: str | None, required: bool
) -> paramiko.PKey | None:
    if not path.is_file():
        if required:
            raise HostUnreachable(host, f"private key file {path} does not exist")
        return None
    try:
        secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
        # The stubs say str, paramiko 4+ wants bytes (cryptography does the decrypting).
        return paramiko.PKey.from_path(path, password=secret)  # type: ignore[arg-type]
    except (paramiko.PasswordRequiredException, TypeError) as err:
        # paramiko raises PasswordRequiredException for PEM keys; for OpenSSH-format keys
        # the TypeError of cryptography's loader comes through.
        if required and passphrase:
            raise HostUnreachable(
                host, f"cannot load private key {path}: wrong passphrase?"
            ) from err
        if required:
            raise HostUnreachable(
                host, f"private key {path} is encrypted: set private_key_passphrase"
            ) from err
    except (paramiko.SSHException, OSError, ValueError) as err:
        if required:
            hint = " (wrong passphrase?)" if passphrase else ""
            raise HostUnreachable(host, f"cannot load private key {path}: {err}{hint}") from err
    return None


def parse_jump(hop: str) -> tuple[str | None, str, int]:
    """`[user@]host[:port]` (also `[v6addr]:port`) -> (user, host, port)."""
    user = None
    if "@" in hop:
        user, hop = hop.rsplit("@", 1)
    port = 22
    if hop.startswith("["):
        address, _, rest = hop[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif hop.count(":") == 1:
        address, _, text = hop.partition(":")
        port = int(text)
    else:
        address = hop
    return user, address, port
