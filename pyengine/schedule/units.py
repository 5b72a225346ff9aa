"""The text of the systemd units and the cron entry that run the nightly job.

Kept as pure functions of a `Schedule`, so what `schedule install` writes can be
checked without installing it, and the same text is what a lab host's real systemd
is asked to load in the tests.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pyengine.errors import PyengineError

_AT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class Schedule:
    """What to run, where and when."""

    at: str  # HH:MM, local time of the controller
    project_dir: Path
    command: list[str]  # argv of the job (pyengine run ... with lock and reports)
    name: str = "pyengine-nightly"
    user: str = "root"
    log_file: Path | None = None  # cron only; systemd logs to the journal
    randomized_delay_s: int = 0
    environment_file: Path | None = None  # e.g. PYENGINE_VAULT_PASSWORD_FILE=...
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _AT_RE.match(self.at):
            raise PyengineError(f"--at {self.at!r}: expected HH:MM (24h), e.g. 02:00")
        if not re.match(r"^[A-Za-z0-9_.@-]+$", self.name):
            raise PyengineError(f"schedule name {self.name!r}: letters, digits, . _ @ - only")

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.at.split(":")
        return int(hour), int(minute)


def _systemd_quote(arg: str) -> str:
    """Quote one ExecStart word as systemd parses it (double quotes, backslash escapes)."""
    if arg and re.match(r"^[A-Za-z0-9_@%+=:,./-]+$", arg):
        return arg.replace("%", "%%")
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def service_unit(s: Schedule) -> str:
    """The oneshot service that runs the job once."""
    lines = [
        "[Unit]",
        f"Description=pyengine nightly job ({s.name})",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"User={s.user}",
        f"WorkingDirectory={s.project_dir}",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in s.command),
        # Exit codes 2 (a task failed) and 4 (unreachable) are results to report, not
        # unit failures to restart on; 5 (lock held) means another run is active.
        "SuccessExitStatus=2 4 5",
        "StandardOutput=journal",
        "StandardError=journal",
        "Nice=5",
    ]
    if s.environment_file:
        lines.append(f"EnvironmentFile={s.environment_file}")
    for key, value in sorted(s.extra_env.items()):
        lines.append("Environment=" + _systemd_quote(f"{key}={value}"))
    return "\n".join(lines) + "\n"


def worker_unit(project_dir: Path, command: list[str], name: str, user: str = "root",
                environment_file: Path | None = None) -> str:
    """A long-running `pyengine worker` service: restarted when it dies, stopped with SIGTERM
    (Celery's warm shutdown finishes the job in hand). A killed one's job goes to another
    worker (pyengine/distributed/queue.py)."""
    lines = [
        "[Unit]",
        f"Description=pyengine worker ({name})",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={user}",
        f"WorkingDirectory={project_dir}",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in command),
        "Restart=always",
        "RestartSec=10",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=1h",
        "StandardOutput=journal",
        "StandardError=journal",
    ]
    if environment_file:
        lines.append(f"EnvironmentFile={environment_file}")
    lines += ["", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


def timer_unit(s: Schedule) -> str:
    """The timer: every day at `at`, catching up after downtime (Persistent=true)."""
    hour, minute = s.hour_minute
    lines = [
        "[Unit]",
        f"Description=Run {s.name} every day at {s.at}",
        "",
        "[Timer]",
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00",
        "Persistent=true",
    ]
    if s.randomized_delay_s:
        lines.append(f"RandomizedDelaySec={s.randomized_delay_s}")
    lines += ["", "[Install]", "WantedBy=timers.target"]
    return "\n".join(lines) + "\n"


def cron_entry(s: Schedule) -> str:
    """An /etc/cron.d line (with user field) that logs to a file."""
    hour, minute = s.hour_minute
    log = s.log_file or (s.project_dir / ".pyengine" / f"{s.name}.log")
    command = " ".join(shlex.quote(a) for a in s.command)
    env = "".join(f"{k}={shlex.quote(v)} " for k, v in sorted(s.extra_env.items()))
    # cron treats % specially: escape it in the command part.
    line = (
        f"{minute} {hour} * * * {s.user} cd {shlex.quote(str(s.project_dir))} && "
        f"{env}{command} >> {shlex.quote(str(log))} 2>&1"
    ).replace("%", "\\%")
    return f"# {s.name}: written by pyengine schedule install\nSHELL=/bin/sh\n{line}\n"
