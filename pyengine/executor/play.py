"""One play over its hosts: serial batches, a thread per host, the play-wide rules.

Each host of a serial batch runs in its own thread (at most `forks` at once)
through the whole play; they meet only where a point concerns several hosts
(`sync.HostGroup`). any_errors_fatal and max_fail_percentage stop the other
hosts at their next step; a failed or unreachable host leaves the play and the
later plays, as in Ansible.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyengine.agent.session import PythonAgentSession
from pyengine.connection.base import Connection
from pyengine.errors import PyengineError
from pyengine.executor import program as prg
from pyengine.executor.contracts import RunOptions, Sources
from pyengine.executor.events import Reporter
from pyengine.executor.host import HostWorker
from pyengine.executor.hoststate import HostState, SessionKey
from pyengine.executor.plan import as_bool
from pyengine.executor.results import RunResult
from pyengine.executor.stops import DONE_OK, HOST_FAILED, UNREACHED
from pyengine.executor.sync import HostGroup
from pyengine.playbook.model import Play, Task, TaskOrBlock
from pyengine.templating import Templar, is_template


class PlayRun:
    """One play on one serial batch of hosts: shared by the host threads."""

    def __init__(self, play: Play, hosts: list[str], all_hosts: list[str], sources: Sources,
                 options: RunOptions, reporter: Reporter, states: dict[str, HostState]) -> None:
        self.play = play
        self.play_name = play.name or play.hosts
        self.hosts = hosts
        self.all_hosts = all_hosts
        self.sources = sources
        self.options = options
        self.reporter = reporter
        self.states = states
        self.extra_vars = options.extra_vars
        self.group = HostGroup(hosts)
        self.ended = False
        # One task per round trip, hosts in step: the only way a failure can stop the
        # other hosts before their next task.
        self.strict = bool(play.any_errors_fatal or play.max_fail_percentage is not None)
        self.max_fail_percentage = _percentage(play, options.extra_vars)
        self._groups = sources.groups()
        self._delegates: dict[tuple[str, str], HostState] = {}
        self.inventory_changes: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        # `ansible_check_mode`: --check, or the play's own `check_mode:` (it may be a template
        # of extra vars, as in nightly.yml's audit play). A task's `check_mode: false` does
        # not change it, so such a task can still tell it must only look.
        self.play_check_mode = options.check or _play_check_mode(play, options.extra_vars)

    # -- variables -------------------------------------------------------------------
    def base_vars(self, host: str, task: Task | None) -> Mapping[str, Any]:
        return self.sources.base_vars(host, self.play, task)

    def magic_vars(self, state: HostState) -> dict[str, Any]:
        return {
            "inventory_hostname": state.name,
            "inventory_hostname_short": state.name.split(".")[0],
            "groups": self._groups,
            "group_names": sorted(g for g, hs in self._groups.items()
                                  if state.name in hs and g not in ("all", "ungrouped")),
            "hostvars": HostVars(self),
            "play_hosts": self.active_hosts(),
            "ansible_play_hosts": self.active_hosts(),
            "ansible_play_batch": list(self.hosts),
            "ansible_play_hosts_all": list(self.all_hosts),
            "ansible_check_mode": self.play_check_mode,
            "ansible_diff_mode": self.options.diff,
            "ansible_play_name": self.play_name,
            "playbook_dir": str(self.play.basedir),
            "ansible_facts": state.runtime.get("ansible_facts", {}),
        }

    def active_hosts(self) -> list[str]:
        return [h for h in self.hosts if not self.states[h].failed
                and not self.states[h].unreachable]

    def search_paths(self, task: Task | None) -> list[Path]:
        paths = []
        if task is not None and task.role is not None:
            paths += [task.role.path / "files", task.role.path / "templates", task.role.path]
        paths += [self.play.basedir / "files", self.play.basedir / "templates",
                  self.play.basedir]
        return paths

    # -- selection -------------------------------------------------------------------
    def selected(self, task: Task) -> bool:
        """--tags / --skip-tags with Ansible's `always` and `never`."""
        if task.is_handler:
            return True
        tags = set(task.tags)
        opts = self.options
        if opts.skip_tags and tags & opts.skip_tags:
            return False
        if "always" in tags and "always" not in opts.skip_tags:
            return True
        if not opts.tags or "all" in opts.tags:
            return "never" not in tags
        if "tagged" in opts.tags and tags - {"never"}:
            return True
        if "untagged" in opts.tags and not tags:
            return True
        return bool(tags & opts.tags)

    # -- privilege and connections ---------------------------------------------------
    def session_key(self, task: Task | None, variables: Mapping[str, Any]) -> SessionKey:
        become = task.become.become if task is not None else None
        if become is None:
            become = self.play.become.become
        if become is None:
            become = as_bool(_get(variables, "ansible_become", False))
        if not become:
            return (False, None)
        user = (task.become.user if task is not None else None) or self.play.become.user
        if user is None:
            user = _get(variables, "ansible_become_user", None)
        if user is not None:
            user = str(Templar(variables).render(user))
        return (True, user or "root")

    def open_connection(self, host: str) -> Connection:
        # Connection variables may come from any level (inventory, play vars, -e), as in
        # Ansible; only the ansible_*/pyengine_* ones are used.
        view = _VarsView(self, host)
        keywords: dict[str, Any] = {}
        # Play keywords count only where the variables say nothing (Ansible's order).
        if self.play.remote_user and "ansible_user" not in view:
            keywords["ansible_user"] = self.play.remote_user
        if self.play.connection and "ansible_connection" not in view:
            keywords["ansible_connection"] = self.play.connection
        from collections import ChainMap

        return self.sources.connection(host, ChainMap(keywords, view))  # type: ignore[arg-type]

    def open_session(self, host: str, connection: Connection, key: SessionKey
                     ) -> PythonAgentSession:
        if connection.name == "winrm":
            # Windows: the PowerShell runner (no sudo; WinRM users are admins or not).
            from pyengine.agent.powershell import PowerShellSession

            session: Any = PowerShellSession(connection,  # type: ignore[arg-type]
                                             module_source=self.sources.module_source_ps1)
            return session  # type: ignore[no-any-return]
        variables = _VarsView(self, host)
        become, user = key
        password = None
        if become:
            password = self.options.become_password
            for name in ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"):
                value = _get(variables, name, None)
                if value:
                    password = str(Templar(variables).render(value))
                    break
        python = _get(variables, "ansible_python_interpreter", None) or "python3"
        python = str(Templar(variables).render(python))  # "auto" is resolved by the session
        return PythonAgentSession(connection, module_source=self.sources.module_source,
                                  become=become, become_user=user, become_password=password,
                                  python=python)

    def delegate_session(self, name: str, for_host: str) -> PythonAgentSession:
        """The agent on a delegate host (localhost: the controller, no SSH), one per
        delegating host: a session serves one thread at a time."""
        with self._lock:
            state = self._delegates.get((name, for_host))
            if state is None:
                state = _delegate_state(self, name)
                self._delegates[(name, for_host)] = state
        return state.session((False, None))

    def close_delegates(self) -> None:
        for state in self._delegates.values():
            state.close()

    def load_include(self, task: Task, args: dict[str, Any]) -> list[TaskOrBlock]:
        if task.action in ("include_role", "import_role"):
            tasks, handlers = self.sources.load_include_role(task, args, self.play)
            with self._lock:
                known = {(h.name, str(h.origin)) for h in self.play.handlers}
                for handler in handlers:
                    if (handler.name, str(handler.origin)) not in known:
                        self.play.handlers.append(handler)
            return tasks
        return self.sources.load_include(task, args, self.play)

    def inventory_change(self, host: str, result: dict[str, Any]) -> None:
        """group_by / add_host: applied when the play ends (see apply_inventory_changes)."""
        with self._lock:
            self.inventory_changes.append((host, result))

    def apply_inventory_changes(self) -> None:
        for host, result in self.inventory_changes:
            self.sources.apply_inventory_change(host, result)
        self.inventory_changes.clear()

    def end_play(self) -> None:
        self.ended = True
        self.group.end()

    # -- one host --------------------------------------------------------------------
    def run_host(self, host: str, program: prg.Program) -> str:
        state = self.states[host]
        worker = HostWorker(self, state)
        how = DONE_OK
        try:
            if self.play.gather_facts or not state.facts:
                how = self._start(worker)
            if how == DONE_OK:
                state.notified.clear()
                how = worker.run_program(program)
                if how == HOST_FAILED and self.play.force_handlers and state.notified:
                    worker.run_handlers_now()
        except PyengineError as err:
            how = self._host_error(state, str(err))
        except Exception as err:  # noqa: BLE001 - a bug must fail one host, not the run
            import traceback

            how = self._host_error(state, f"internal error: {type(err).__name__}: {err}",
                                   traceback.format_exc())
        finally:
            state.result.round_trips = state.round_trips
            if how == HOST_FAILED:
                state.failed = True
                self._on_failure(host)
            self.group.leave(host)
            self.reporter.host_done(host, state.result)
        return how

    def _host_error(self, state: HostState, msg: str, detail: str = "") -> str:
        from pyengine.executor.results import FAILED, TaskResult
        from pyengine.masking import mask

        task = TaskResult(name=mask(state.current or "run"), module="", status=FAILED,
                          msg=mask(msg), play=self.play_name,
                          result=mask({"exception": detail}) if detail else {})
        state.result.tasks.append(task)
        self.reporter.task_done(state.name, task, {"msg": msg})
        state.close()
        return HOST_FAILED

    def _start(self, worker: HostWorker) -> str:
        from pyengine.errors import HostUnreachable

        state = worker.state
        try:
            variables = worker.variables(None)
            state.ops.key = self.session_key(None, variables)
            state.session(state.ops.key)
            state.result.round_trips = state.round_trips
            return DONE_OK
        except HostUnreachable as err:
            state.mark_unreachable(None, err.reason, self)
            return UNREACHED
        except PyengineError as err:
            # The host answered but the agent could not start (python missing, sudo
            # refused): the host fails, with the reason.
            from pyengine.executor.results import FAILED, TaskResult
            from pyengine.masking import mask

            state.result.tasks.append(TaskResult(name="start agent", module="", status=FAILED,
                                                 msg=mask(str(err)), play=self.play_name))
            self.reporter.task_done(state.name, state.result.tasks[-1], {"msg": str(err)})
            state.close()
            return HOST_FAILED

    def _on_failure(self, host: str) -> None:
        failed = self.group.mark_failed(host)
        if self.play.any_errors_fatal:
            self.group.abort(f"any_errors_fatal: {host} failed")
            return
        mfp = self.max_fail_percentage
        if mfp is not None and self.group.total and failed * 100.0 / self.group.total > mfp:
            self.group.abort(f"max_fail_percentage {mfp:g}% exceeded "
                             f"({failed} of {self.group.total} hosts failed)")


class _VarsView(Mapping[str, Any]):
    """A host's variables outside a task (connection and become settings)."""

    def __init__(self, run: PlayRun, host: str) -> None:
        state = run.states.get(host)
        runtime = state.runtime if state is not None else {}
        from collections import ChainMap

        self._map = ChainMap(run.extra_vars, runtime,
                             run.base_vars(host, None))  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        value = self._map[key]
        if is_template(value) or isinstance(value, (dict, list)):
            # hostvars['web1'].x reads web1's x rendered with web1's own variables.
            return Templar(self._map).render(value)
        return value

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)


class HostVars:
    """`hostvars[name]`: another host's variables, read when asked (never copied).

    Deliberately not a `Mapping`: the templar walks mappings to find templates, and
    walking every host's variables would render them all (and fail on any broken one).
    """

    def __init__(self, run: PlayRun) -> None:
        self._run = run

    def __getitem__(self, host: str) -> Any:
        if host not in self._run.states and host not in self._run.all_hosts:
            raise KeyError(host)
        return _VarsView(self._run, host)

    def __contains__(self, host: object) -> bool:
        return host in self._run.states or host in self._run.all_hosts

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._run.all_hosts)

    def __len__(self) -> int:
        return len(self._run.all_hosts)

    def keys(self) -> list[str]:
        return list(self._run.all_hosts)

    def get(self, host: str, default: Any = None) -> Any:
        return self[host] if host in self else default


def _get(variables: Mapping[str, Any], name: str, default: Any) -> Any:
    try:
        return variables[name] if name in variables else default
    except Exception:  # noqa: BLE001
        return default


def _delegate_state(run: PlayRun, name: str) -> HostState:
    from pyengine.connection.local import LocalConnection
    from pyengine.executor.results import HostResult

    def open_connection() -> Connection:
        if name in ("localhost", "127.0.0.1"):
            return LocalConnection(name)
        return run.open_connection(name)

    return HostState(name, HostResult(name), open_connection,
                     lambda conn, key: run.open_session(name, conn, key))


def _percentage(play: Play, extra_vars: Mapping[str, Any]) -> float | None:
    value = play.max_fail_percentage
    if value is None:
        return None
    rendered = Templar({**play.vars, **extra_vars}).render(value)
    try:
        return float(str(rendered).rstrip("%"))
    except ValueError as err:
        raise PyengineError(f"{play.origin}: max_fail_percentage: {rendered!r} is not a "
                            "number") from err


def render_serial(play: Play, extra_vars: Mapping[str, Any]) -> list[int | str]:
    """serial items may be templates ("{{ batch }}"), rendered with play and extra vars."""
    templar = Templar({**play.vars, **extra_vars})
    out: list[int | str] = []
    for item in play.serial:
        value = templar.render(item)
        out.extend(value if isinstance(value, list) else [value])
    return out


def serial_batches(hosts: list[str], serial: list[int | str]) -> list[list[str]]:
    """Split hosts as `serial:` says: ints, percentages, or a list (the last one repeats)."""
    if not serial:
        return [hosts] if hosts else []
    out: list[list[str]] = []
    i = 0
    step = 0
    total = len(hosts)
    while i < total:
        spec = serial[min(step, len(serial) - 1)]
        size = _serial_size(spec, total)
        out.append(hosts[i:i + size])
        i += size
        step += 1
    return out


def _serial_size(spec: int | str, total: int) -> int:
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            size = int(math.floor(total * float(text[:-1]) / 100.0))
        else:
            size = int(text)
    except ValueError as err:
        raise PyengineError(f"serial: {spec!r} is neither a number nor a percentage") from err
    return max(size, 1)


def play_program(play: Play) -> prg.Program:
    """pre_tasks, roles + tasks, post_tasks, each followed by a handler flush."""
    return prg.compile_sections([play.pre_tasks, list(play.roles) + list(play.tasks),
                                 play.post_tasks])


def new_run_result(playbook: str, started: str, check: bool) -> RunResult:
    return RunResult(playbook=playbook, started=started, check_mode=check)


def _play_check_mode(play: Play, extra_vars: Mapping[str, Any]) -> bool:
    if play.check_mode is None or isinstance(play.check_mode, bool):
        return bool(play.check_mode)
    try:
        rendered = Templar(extra_vars).render(play.check_mode)
    except PyengineError:
        return False
    return as_bool(rendered)
