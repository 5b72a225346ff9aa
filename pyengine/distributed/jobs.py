"""What travels through the broker: a job names its playbook, inventory and hosts.

A job carries names and options only — paths relative to the project checkout every
worker has, a --limit made of the job's hosts, extra variables that are not secrets.
Vault passwords and SSH keys stay on the workers (their own --vault-password-file, their
own keys), so a broker or its backups never hold anything that opens a host.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pyengine.errors import PyengineError

GENERAL_QUEUE = "pyengine"
SITE_VAR = "pyengine_site"


def site_queue(site: str) -> str:
    """The queue a site's workers consume (`pyengine worker --site NAME`)."""
    return f"{GENERAL_QUEUE}.site.{site}"


@dataclass
class Job:
    """One unit of work: a playbook on a set of hosts, run by one worker."""

    id: str
    submission: str
    playbook: str
    inventories: list[str]
    hosts: list[str]
    queue: str = GENERAL_QUEUE
    label: str = ""  # the client, site or shard this job is
    check: bool = False
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    extra_vars: list[str] = field(default_factory=list)  # -e values as given (no @files)
    forks: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)

    @property
    def limit(self) -> str:
        """The job's hosts as a --limit (names, comma-separated)."""
        return ",".join(self.hosts)


def new_submission_id() -> str:
    return uuid.uuid4().hex[:12]


def split_hosts(hosts: list[str], split: str, client: Callable[[str], str],
                site: Callable[[str], str]) -> list[tuple[str, str, list[str]]]:
    """(label, queue, hosts) of each job: per client, per `pyengine_site` (a site's jobs
    go to its own queue; hosts with no site to the general one) or shards of N hosts."""
    if split.isdigit():
        size = int(split)
        if size < 1:
            raise PyengineError("--split N needs N >= 1")
        return [(f"shard{index + 1}", GENERAL_QUEUE, hosts[start:start + size])
                for index, start in enumerate(range(0, len(hosts), size))]
    if split not in ("client", "site"):
        raise PyengineError(f"--split {split!r}: use client, site or a number of hosts")
    groups: dict[str, list[str]] = {}
    for host in hosts:
        key = client(host) if split == "client" else site(host)
        groups.setdefault(key, []).append(host)
    out = []
    for label, members in sorted(groups.items()):
        queue = site_queue(label) if split == "site" and label else GENERAL_QUEUE
        out.append((label or "general", queue, members))
    return out


def reject_secret_extra_vars(values: list[str]) -> None:
    """-e @file may be vaulted and -e text goes through the broker in clear: refuse files,
    and say where secrets belong."""
    for value in values:
        if value.strip().startswith("@"):
            raise PyengineError(
                f"-e {value}: a file is not sent through the broker; put it in the project "
                f"checkout (group_vars, vars_files) where every worker reads it with its own "
                f"vault password")
