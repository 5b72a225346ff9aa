"""The controller side of the PowerShell runner: `PowerShellSession`, the Windows agent.

WinRM runs a new process per command, so there is no long-lived agent as on POSIX;
instead each exchange is ONE PowerShell invocation over the host's one WinRM shell:

  powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand BOOT

BOOT is a constant script (it never contains a task value): it reads stdin, which is
base64 of UTF-8 JSON `{"runner", "facts", "modules": {NAME: SOURCE}, "tasks": [ITEM]}`,
and invokes the runner (`runner.ps1`) with it. The runner writes one line
`PYENGINE-RESULT:<base64 JSON>` per task as it finishes, `PYENGINE-FACTS:` for the
facts and `PYENGINE-DONE:` at the end; anything else on stdout is module noise and
comes back as a warning. The first exchange (`start`) returns the facts; every batch
is one more round trip. Module sources travel with each batch that uses them, since
no process or file survives between invocations.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pyengine.agent.bundle import NATIVE, ModuleCode
from pyengine.connection.winrm import WinRMConnection
from pyengine.errors import EXIT_TASK_FAILED, PyengineError

RUNNER_PATH = Path(__file__).resolve().with_name("runner.ps1")
LINE_PREFIX = "PYENGINE-"

# The only script text ever sent as a command; values travel on stdin as data.
BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'\n"
    "$raw = [Console]::In.ReadToEnd()\n"
    "$json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($raw.Trim()))\n"
    "$payload = ConvertFrom-Json -InputObject $json\n"
    "$runner = [ScriptBlock]::Create($payload.runner)\n"
    "& $runner -Payload $payload\n"
)

ITEM_KEYS = ("id", "module", "args", "check_mode", "diff", "environment", "ignore_errors",
             "no_log")


class RunnerError(PyengineError):
    """The PowerShell runner failed outside any module (PowerShell missing, bad output)."""

    exit_code = EXIT_TASK_FAILED


def build_payload(
    tasks: list[dict[str, Any]], modules: dict[str, str], facts: bool
) -> bytes:
    """The stdin of one invocation: base64 of the JSON payload (ASCII, code-page safe)."""
    payload = {
        "runner": RUNNER_PATH.read_text(encoding="utf-8"),
        "facts": facts,
        "modules": modules,
        "tasks": tasks,
    }
    return base64.b64encode(json.dumps(payload).encode("utf-8"))


def parse_output(stdout: bytes) -> tuple[list[tuple[str, Any]], list[str]]:
    """Split runner output into (kind, data) records and other lines (module noise)."""
    records: list[tuple[str, Any]] = []
    noise: list[str] = []
    for raw in stdout.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith(LINE_PREFIX) and ":" in line:
            kind, _, encoded = line[len(LINE_PREFIX):].partition(":")
            try:
                records.append((kind, json.loads(base64.b64decode(encoded).decode("utf-8"))))
                continue
            except ValueError:
                pass
        if line:
            noise.append(line)
    return records, noise


class PowerShellSession:
    """The AgentSession of a Windows host (docs/ARCHITECTURE.md, "Agent sessions")."""

    def __init__(
        self,
        connection: WinRMConnection,
        module_source: Callable[[str], str | ModuleCode] | None = None,
        task_timeout: float | None = None,
    ) -> None:
        self.connection = connection
        self.host = connection.host
        self.module_source = module_source
        self.task_timeout = task_timeout
        self.round_trips = 0
        self.phases: dict[str, Any] = {"batches": []}  # as PythonAgentSession.phases (unset)
        self.facts: dict[str, Any] = {}
        self._sources: dict[str, str] = {}

    def _invoke(self, tasks: list[dict[str, Any]], facts: bool) -> tuple[list, list[str]]:
        modules = {name: self._source(name) for name in sorted({t["module"] for t in tasks})}
        self.round_trips += 1
        result = self.connection.run_powershell(
            BOOTSTRAP, build_payload(tasks, modules, facts), timeout=self.task_timeout
        )
        records, noise = parse_output(result.stdout)
        if not any(kind == "DONE" for kind, _ in records):
            detail = (result.stderr.decode("utf-8", "replace").strip() or "\n".join(noise))
            raise RunnerError(
                f"{self.host}: PowerShell runner failed (rc={result.rc}): "
                f"{detail.splitlines()[0] if detail else 'no output'}"
            )
        return records, noise

    def _source(self, name: str) -> str:
        if name not in self._sources:
            if self.module_source is None:
                raise RunnerError(f"{self.host}: no module source resolver for {name!r}")
            code = self.module_source(name)
            if isinstance(code, ModuleCode):
                if code.kind != NATIVE:
                    raise RunnerError(f"{self.host}: {name} is an Ansible module; the bridge "
                                      "runs them on POSIX hosts only")
                code = code.source
            self._sources[name] = code
        return self._sources[name]

    def start(self) -> dict[str, Any]:
        """First round trip: connect, run the runner with no tasks, return the facts."""
        if self.facts:
            return self.facts
        self.connection.connect()
        records, _ = self._invoke([], facts=True)
        for kind, data in records:
            if kind == "FACTS":
                self.facts = dict(data)
        if not self.facts:
            raise RunnerError(f"{self.host}: PowerShell runner returned no facts")
        return self.facts

    def run_batch(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """One invocation for the batch; yield `{"id", "result", "duration_s"}` per task."""
        tasks = [{key: item.get(key) for key in ITEM_KEYS} for item in items]
        if not tasks:
            return
        started = time.monotonic()
        records, noise = self._invoke(tasks, facts=False)
        results = [data for kind, data in records if kind == "RESULT"]
        for index, data in enumerate(results):
            result = dict(data.get("result") or {})
            if noise and index == len(results) - 1:
                warnings = list(result.get("warnings") or [])
                warnings.append("output outside the runner protocol: " + " | ".join(noise)[:2000])
                result["warnings"] = warnings
            yield {"id": data.get("id"), "result": result,
                   "duration_s": float(data.get("duration_s") or 0.0)}
        if not results and tasks:
            raise RunnerError(f"{self.host}: runner returned no result after "
                              f"{time.monotonic() - started:.1f}s")

    def run_all(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self.run_batch(items))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> PowerShellSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
