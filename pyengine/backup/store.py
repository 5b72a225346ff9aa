"""The git store behind config backups: `backups/<group>/<host>/...`, one commit per run.

We drive the git CLI (argv lists, never a shell string) rather than a library such
as dulwich: git is on every machine that holds a playbook repository, the
repository stays fully usable with the user's own git tooling and credentials
(push uses their remotes and credential helpers as configured), and diff/log
output is exactly what engineers already read.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from pyengine.errors import PyengineError
from pyengine.safepath import contained

BACKUP_ROOT = "backups"
COMMANDS_DIR = "_commands"
DEFAULT_AUTHOR = ("pyengine", "pyengine@localhost")


class BackupError(PyengineError):
    """The backup repository cannot be used (not a git repository, git failed, bad path)."""


@dataclass
class CommitInfo:
    """One backup commit: what `backup log` lists."""

    rev: str
    date: str
    subject: str
    hosts: dict[str, list[str]] = field(default_factory=dict)  # host -> changed paths


def host_relpath(path: str) -> str:
    """Where a host file lands under the host folder: the absolute path without its '/'.

    Refuses '..' so a crafted path can never escape the host's folder.
    """
    pure = PurePosixPath("/" + path.lstrip("/"))
    if ".." in pure.parts:
        raise BackupError(f"refusing backup path with '..': {path}")
    return str(pure.relative_to("/"))


SYMLINK_PREFIX = b"symlink -> "


def symlink_target(content: bytes) -> str | None:
    """The link target when `content` is how backup_collect records a symlink (one line,
    `symlink -> TARGET`), else None."""
    if not content.startswith(SYMLINK_PREFIX) or content.count(b"\n") > 1:
        return None
    target = content[len(SYMLINK_PREFIX):].rstrip(b"\n")
    return target.decode("utf-8", "surrogateescape") if target else None


class BackupStore:
    """A git repository holding `backups/<group>/<host>/`; created when missing."""

    def __init__(self, root: Path, author: tuple[str, str] = DEFAULT_AUTHOR,
                 create: bool = True) -> None:
        """`create=False` for commands that only read or restore: a mistyped --repo must
        be an error, not a new empty repository."""
        self.root = Path(root)
        self.author = author
        if not create and not (self.root / ".git").exists():
            raise BackupError(f"no backup repository at {self.root} (check --repo)")
        if not (self.root / ".git").exists():
            if self.root.exists() and any(self.root.iterdir()):
                probe = subprocess.run(
                    ["git", "-C", str(self.root), "rev-parse", "--is-inside-work-tree"],
                    capture_output=True, text=True,
                )
                if probe.returncode != 0:
                    raise BackupError(f"{self.root} exists and is not a git repository")
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                self._git("init", "-q")
        self.backups = self.root / BACKUP_ROOT

    # -- low level -------------------------------------------------------------------------

    def _git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        full_env = dict(os.environ)
        # The store must not depend on (or change) the user's global git identity.
        full_env.update({
            "GIT_AUTHOR_NAME": self.author[0], "GIT_AUTHOR_EMAIL": self.author[1],
            "GIT_COMMITTER_NAME": self.author[0], "GIT_COMMITTER_EMAIL": self.author[1],
        })
        full_env.update(env or {})
        proc = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, env=full_env
        )
        if check and proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            last = detail[-1] if detail else ""
            raise BackupError(f"git {args[0]} failed in {self.root}: {last}")
        return proc.stdout.decode(errors="replace")

    def _git_bytes(self, *args: str) -> bytes:
        proc = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip()
            raise BackupError(message or f"git {args[0]} failed")
        return proc.stdout

    def head(self) -> str | None:
        """The current commit, or None in a repository without commits."""
        out = self._git("rev-parse", "--verify", "-q", "HEAD", check=False).strip()
        return out or None

    # -- writing ---------------------------------------------------------------------------

    def host_dir(self, group: str, host: str) -> Path:
        for name in (group, host):
            if not name or "/" in name or name in (".", ".."):
                raise BackupError(f"invalid group or host name for a backup folder: {name!r}")
        return self.backups / group / host

    def find_host_dir(self, host: str) -> Path:
        """The folder of `host` whatever its group; a clear error when never backed up."""
        if not host or "/" in host or host in (".", ".."):
            raise BackupError(f"invalid host name {host!r}")
        # The name is a literal host name, never a glob: '*' must not pick some host's folder.
        matches = sorted(p for p in self.backups.glob(f"*/{glob.escape(host)}") if p.is_dir())
        if not matches:
            raise BackupError(f"no backup of host {host!r} in {self.backups}")
        return matches[0]

    def write_host(self, group: str, host: str, files: dict[str, bytes]) -> None:
        """Replace the host's snapshot by `files` (path -> content); vanished files go away."""
        target = self.host_dir(group, host)
        # Same host under another group (it moved): drop the old copy, keep one truth.
        for other in self.backups.glob(f"*/{host}"):
            if other != target and other.is_dir():
                shutil.rmtree(other)
        if target.exists():
            shutil.rmtree(target)
        for path, content in files.items():
            dest = contained(target, host_relpath(path), "backup path")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)

    def pending_changes(self) -> dict[str, list[str]]:
        """host -> changed paths (relative to the host folder) not yet committed."""
        self._git("add", "-A", "--", BACKUP_ROOT)
        out = self._git("diff", "--cached", "--name-status", "--no-renames", "--", BACKUP_ROOT)
        return _changes_by_host(out)

    def commit(self, date: datetime | None = None, run_label: str = "") -> CommitInfo | None:
        """Commit the backups of this run; None (and no commit) when nothing changed."""
        changes = self.pending_changes()
        if not changes:
            return None
        when = (date or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        subject = f"backup: {len(changes)} host(s) changed"
        if run_label:
            subject += f" ({run_label})"
        body_lines = []
        for host, paths in sorted(changes.items()):
            shown = ", ".join(paths[:10]) + (f", … (+{len(paths) - 10})" if len(paths) > 10 else "")
            body_lines.append(f"- {host}: {shown}")
        message = subject + "\n\n" + "\n".join(body_lines) + "\n"
        self._git(
            "commit", "-q", "-m", message,
            env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
        )
        rev = self.head() or ""
        return CommitInfo(rev=rev, date=when, subject=subject, hosts=changes)

    def push(self, remote: str = "origin", branch: str | None = None) -> None:
        """Push to a remote the user configured (never adds one by itself)."""
        remotes = self._git("remote").split()
        if remote not in remotes:
            raise BackupError(f"backup repository has no remote {remote!r} (git remote add ...)")
        ref = branch or self._git("rev-parse", "--abbrev-ref", "HEAD").strip()
        self._git("push", "-q", remote, ref)

    # -- reading ---------------------------------------------------------------------------

    def log(self, host: str, limit: int = 50) -> list[CommitInfo]:
        """Commits that touched `host`, newest first."""
        folder = self.find_host_dir(host).relative_to(self.root)
        fmt = "%H%x1f%aI%x1f%s"
        out = self._git("log", f"-n{limit}", f"--format={fmt}", "--", str(folder))
        commits = []
        for line in out.splitlines():
            rev, date, subject = line.split("\x1f", 2)
            names = self._git(
                "show", "--name-status", "--no-renames", "--format=", rev, "--", str(folder)
            )
            commits.append(CommitInfo(rev, date, subject, _changes_by_host(names)))
        return commits

    def resolve_since(self, since: str) -> str | None:
        """A revision, or the last commit before a date ('2026-11-01', '7 days ago')."""
        rev = self._git("rev-parse", "--verify", "-q", since + "^{commit}", check=False).strip()
        if rev:
            return rev
        out = self._git("rev-list", "-n1", f"--before={since}", "HEAD", check=False).strip()
        return out or None

    def diff(self, host: str, since: str | None = None, until: str = "HEAD") -> str:
        """Unified diff of the host's files from `since` (default: the previous commit)."""
        folder = str(self.find_host_dir(host).relative_to(self.root))
        if since is None:
            commits = self.log(host, limit=2)
            if len(commits) < 2:
                return ""
            base = commits[1].rev
        else:
            resolved = self.resolve_since(since)
            if resolved is None:
                raise BackupError(f"no backup revision at or before {since!r}")
            base = resolved
        return self._git("diff", base, until, "--", folder)

    def show(self, host: str, path: str, rev: str = "HEAD") -> bytes:
        """A host file's content at a revision (what `backup restore` pushes back)."""
        folder = self.find_host_dir(host).relative_to(self.root)
        rel = PurePosixPath(str(folder)) / host_relpath(path)
        try:
            return self._git_bytes("show", f"{rev}:{rel}")
        except BackupError as err:
            raise BackupError(f"{host}:{path} is not in backup revision {rev}: {err}") from None

    def drift(self, since_rev: str | None, until_rev: str = "HEAD") -> dict[str, list[str]]:
        """host -> paths changed between two backup revisions (the morning report's drift)."""
        if not self.head():
            return {}
        if since_rev is None:
            out = self._git("show", "--name-status", "--no-renames", "--format=", until_rev,
                            "--", BACKUP_ROOT)
        else:
            out = self._git("diff", "--name-status", "--no-renames", since_rev, until_rev,
                            "--", BACKUP_ROOT)
        return _changes_by_host(out)


def _changes_by_host(name_status: str) -> dict[str, list[str]]:
    """Parse `git diff --name-status` lines under backups/<group>/<host>/ into host -> paths."""
    changes: dict[str, list[str]] = {}
    for line in name_status.splitlines():
        if "\t" not in line:
            continue
        status, path = line.split("\t", 1)
        parts = PurePosixPath(path).parts
        if len(parts) < 4 or parts[0] != BACKUP_ROOT:
            continue
        host = parts[2]
        rel = "/" + "/".join(parts[3:])
        if parts[3] == COMMANDS_DIR:
            rel = "command:" + "/".join(parts[4:])
        marker = {"A": "+", "D": "-"}.get(status[:1], "")
        changes.setdefault(host, []).append(marker + rel)
    return changes
