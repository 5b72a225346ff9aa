"""What a controller action gets and gives back.

An action is one file `pyengine/actions/NAME.py` that declares `ARGS` exactly as a
target module does (a literal, read by `pyengine.modspec` without importing), a
`KIND`, and a function:

- `KIND = "local"`: `run(ctx) -> result` computed on the controller from variables
  that are already known (debug, set_fact, assert, fail, include_vars). It runs
  while the executor plans a batch, so it never costs a round trip and never cuts
  a batch by itself; a failing one ends the batch (nothing after it may run).
- `KIND = "transform"`: `transform(ctx) -> [(module, args), ...]` turns the task into
  target module calls rendered on the controller (template, copy with `src`); those
  travel in the batch like any module task.
- `KIND = "sequenced"`: `run(ctx) -> result` needs the host in a settled state
  (reboot, pause, wait_for_connection, fetch, raw, script): the pending batch is sent
  first and the action runs alone, with `ctx.host_ops` to reach the host.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from pyengine.paths import expand_user, search_dirs
from pyengine.playbook.model import Task
from pyengine.templating import Templar

LOCAL = "local"
TRANSFORM = "transform"
SEQUENCED = "sequenced"


class HostOps(Protocol):
    """What a sequenced action may do with its host (implemented by the host worker)."""

    def run_module(self, module: str, args: dict[str, Any], check_mode: bool = False,
                   diff: bool = False) -> dict[str, Any]:
        """Run one target module in its own round trip."""

    def exec_raw(self, argv: list[str], data: bytes | None = None,
                 timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run a command over the connection, without the agent."""

    def put_file(self, data: bytes, path: str, mode: int | None = None) -> None:
        """Write a file on the target over the connection."""

    def get_file(self, path: str) -> bytes:
        """Read a file from the target over the connection."""

    def reconnect(self, timeout: float, delay: float = 1.0) -> dict[str, Any]:
        """Drop the connection and agent, connect again (retrying until `timeout`), return facts."""

    def drop_connection(self) -> None:
        """Close the connection (the host is going away, e.g. rebooting)."""


@dataclass
class ActionContext:
    """One task on one host, rendered: what an action needs to do its job."""

    host: str
    task: Task
    args: dict[str, Any]
    templar: Templar
    variables: Mapping[str, Any]
    basedir: Path
    host_ops: HostOps  # to reach the host (sequenced actions only use it)
    check_mode: bool = False
    diff: bool = False

    def search_dirs(self, kind: str) -> list[Path]:
        """Where `templates/` or `files/` are looked up: the role's, then the playbook's."""
        role = self.task.role.path if self.task.role is not None else None
        return search_dirs(role, self.basedir, (kind,))

    def find_file(self, kind: str, name: str) -> Path | None:
        """A controller-side file for `src`: absolute, or under the search dirs."""
        path = expand_user(name)
        if path.is_absolute():
            return path if path.exists() else None
        for folder in self.search_dirs(kind):
            candidate = folder / name
            if candidate.exists():
                return candidate
        return None


class ActionFailed(Exception):
    """Raised inside an action: becomes a failed result with this message."""

    def __init__(self, msg: str, **data: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.data = data


@functools.cache
def load_action(name: str) -> ModuleType | None:
    """The action module for `name`, or None when `name` is a target module.

    Cached: every task of every host asks, and `find_spec` takes the interpreter's global
    import lock; with 100 host threads that lock was most of the controller's wait
    (issue 17, threads profiled). The package's files do not change during a run."""
    if name.startswith("_") or name == "base":
        return None
    modname = f"pyengine.actions.{name}"
    try:
        if importlib.util.find_spec(modname) is None:
            return None
    except (ImportError, ValueError):
        return None
    module = importlib.import_module(modname)
    return module if hasattr(module, "KIND") else None
