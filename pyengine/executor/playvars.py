"""A play's variables for its hosts: the layers from Sources, the magic ones, `hostvars`.

Run-time values (registered results, set_fact, facts) live in each host's HostState;
this module only puts the layers together for a task and for the connection settings.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pyengine.executor.contracts import RunOptions, Sources
from pyengine.executor.hoststate import HostState
from pyengine.executor.plan import keyword_bool
from pyengine.paths import search_dirs
from pyengine.playbook.model import Play, Task
from pyengine.templating import Templar, is_template
from pyengine.vars import option_vars


class PlayVariables:
    """Variables of one play (one serial batch): what a task or a connection reads."""

    def __init__(self, play: Play, hosts: list[str], all_hosts: list[str], sources: Sources,
                 options: RunOptions, states: dict[str, HostState]) -> None:
        self.play = play
        self.play_name = play.name or play.hosts
        self.hosts = hosts
        self.all_hosts = all_hosts
        self.sources = sources
        self.options = options
        self.states = states
        self.extra_vars = options.extra_vars
        # `ansible_check_mode`: --check, or the play's own `check_mode:` (it may be a template
        # of extra vars, as in nightly.yml's audit play). A task's `check_mode: false` does
        # not change it, so such a task can still tell it must only look.
        self.check_mode = options.check or play_check_mode(play, options.extra_vars)

    def base_vars(self, host: str, task: Task | None) -> Mapping[str, Any]:
        return self.sources.base_vars(host, self.play, task)

    def magic_vars(self, state: HostState) -> dict[str, Any]:
        opts = self.options
        groups = self.sources.groups()  # add_host / group_by change it during the play
        return {
            **option_vars(check=self.check_mode, diff=opts.diff, forks=opts.forks,
                          tags=opts.tags, skip_tags=opts.skip_tags,
                          verbosity=opts.verbosity, limit=opts.limit),
            "inventory_hostname": state.name,
            "inventory_hostname_short": state.name.split(".")[0],
            "groups": groups,
            "group_names": sorted(g for g, hs in groups.items()
                                  if state.name in hs and g not in ("all", "ungrouped")),
            "hostvars": HostVars(self),
            "play_hosts": self.active_hosts(),
            "ansible_play_hosts": self.active_hosts(),
            "ansible_play_batch": list(self.hosts),
            "ansible_play_hosts_all": list(self.all_hosts),
            "ansible_check_mode": self.check_mode,
            "ansible_diff_mode": self.options.diff,
            "ansible_play_name": self.play_name,
            "playbook_dir": str(self.play.basedir),
            "ansible_facts": state.runtime.get("ansible_facts", {}),
        }

    def task_vars(self, state: HostState, task: Task | None,
                  overlay: Mapping[str, Any]) -> Mapping[str, Any]:
        """A task's variables: extra vars > `overlay` (the batch's set_facts) > run results >
        magic > the layers from Sources."""
        return ChainMap(self.extra_vars, overlay, state.runtime,  # type: ignore[arg-type]
                        self.magic_vars(state),
                        self.base_vars(state.name, task))  # type: ignore[arg-type]

    def host_view(self, host: str) -> HostVarsView:
        """A host's variables outside a task (connection and become settings, hostvars)."""
        return HostVarsView(self, host)

    def active_hosts(self) -> list[str]:
        return [h for h in self.hosts if not self.states[h].failed
                and not self.states[h].unreachable]

    def search_paths(self, task: Task | None) -> list[Path]:
        """Where lookups and templates find files: the role's folders, then the play's."""
        role = task.role.path if task is not None and task.role is not None else None
        return search_dirs(role, self.play.basedir, ("files", "templates"))


class HostVarsView(Mapping[str, Any]):
    """A host's variables outside a task, each value rendered with that host's variables."""

    def __init__(self, variables: PlayVariables, host: str) -> None:
        state = variables.states.get(host)
        runtime = state.runtime if state is not None else {}
        self._map = ChainMap(variables.extra_vars, runtime,
                             variables.base_vars(host, None))  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        value = self._map[key]
        if is_template(value) or isinstance(value, (dict, list)):
            # hostvars['web1'].x reads web1's x rendered with web1's own variables.
            return Templar(self._map).render(value, keys=False)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)


class HostVars:
    """`hostvars[name]`: another host's variables, read when asked (never copied).

    Deliberately not a `Mapping`: the templar walks mappings to find templates, and
    walking every host's variables would render them all (and fail on any broken one).
    """

    def __init__(self, variables: PlayVariables) -> None:
        self._vars = variables

    def __getitem__(self, host: str) -> Any:
        if host not in self:
            raise KeyError(host)
        return self._vars.host_view(host)

    def _names(self) -> list[str]:
        """Every inventory host (add_host's too, as soon as it ran), then hosts that only
        exist in this run (an implicit localhost)."""
        names = list(self._vars.sources.groups().get("all", []))
        return names + [h for h in self._vars.states if h not in names]

    def __contains__(self, host: object) -> bool:
        return host in self._vars.states or host in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def keys(self) -> list[str]:
        return self._names()

    def get(self, host: str, default: Any = None) -> Any:
        return self[host] if host in self else default


def play_check_mode(play: Play, extra_vars: Mapping[str, Any]) -> bool:
    """The play's `check_mode:` keyword; a template is rendered with the extra vars.

    A template that does not render raises (PyengineError): a play that cannot tell
    whether it may change hosts must not guess "no check mode" and change them.
    """
    if play.check_mode is None or isinstance(play.check_mode, bool):
        return bool(play.check_mode)
    return keyword_bool(Templar(extra_vars).render(play.check_mode), "check_mode")
