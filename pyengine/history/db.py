"""The run history (embedded SQLite or shared PostgreSQL), with schema migrations from the
first release on.

One row per run, one per host per run, one per task per host. Reports render from
it, so it stores what a morning reader needs (status, changed, duration, a masked
diff summary, the error) and not whole module results. Every string is masked
before it is written: a secret that reaches the database has already leaked. The SQL
here is SQLite's; pyengine/history/dialect.py is the one place that adapts it to
PostgreSQL (`--history-db postgresql://...`).
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyengine.errors import PyengineError
from pyengine.history.dialect import dialect_for, display, is_url
from pyengine.masking import mask, mask_text


class HistoryError(PyengineError):
    """The history database cannot be read or written."""


# Each entry upgrades the schema by one version; never edit a released entry,
# append a new one. PRAGMA user_version (SQLite) or the pyengine_schema table (PostgreSQL)
# records how far a database has come. Written in SQLite's SQL: dialect.py translates the
# column types for PostgreSQL, so keep to INTEGER/TEXT/REAL and plain CREATE/ALTER.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        playbook TEXT NOT NULL,
        inventory TEXT NOT NULL DEFAULT '',
        git_revision TEXT NOT NULL DEFAULT '',
        "user" TEXT NOT NULL DEFAULT '',
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        exit_code INTEGER NOT NULL,
        check_mode INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE host_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        ok INTEGER NOT NULL, changed INTEGER NOT NULL, failed INTEGER NOT NULL,
        skipped INTEGER NOT NULL, unreachable INTEGER NOT NULL,
        round_trips INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX host_results_host ON host_results(host, run_id);
    CREATE TABLE task_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host_result_id INTEGER NOT NULL REFERENCES host_results(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        module TEXT NOT NULL,
        status TEXT NOT NULL,
        changed INTEGER NOT NULL,
        duration_s REAL NOT NULL,
        diff_summary TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT ''
    );
    """,
    # v2: keep per-host data a report needs beyond task rows (compliance score,
    # pending patches, drift) as JSON, so new report sections need no migration.
    """
    ALTER TABLE host_results ADD COLUMN extra_json TEXT NOT NULL DEFAULT '{}';
    """,
    # v3: health check rows per host per run (the `health` module), queried by check and
    # item over time: days until a filesystem is full, a port not there last run, a
    # state that changed since the last run (pyengine/health/).
    """
    CREATE TABLE health_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        taken TEXT NOT NULL,
        check_name TEXT NOT NULL,
        item TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        value REAL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX health_samples_host ON health_samples(host, check_name, item, run_id);
    """,
    # v4: jobs of a distributed submission (pyengine/distributed/) and a lease per host,
    # so a job delivered twice (a worker killed mid-job) never runs two runs on one host
    # at once and a finished job is not run again; `attempts` and `note` say what happened.
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        submission TEXT NOT NULL,
        hosts TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        worker TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        run_id INTEGER,
        exit_code INTEGER,
        updated TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE host_leases (
        host TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        worker TEXT NOT NULL,
        expires REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def default_history_path(project_dir: Path | None = None) -> Path:
    """`$PYENGINE_HISTORY_DB`, else `.pyengine/history.sqlite` under the project (the
    current folder by default)."""
    override = os.environ.get("PYENGINE_HISTORY_DB")
    if override and project_dir is None:
        return Path(override)
    return (project_dir or Path.cwd()) / ".pyengine" / "history.sqlite"


def default_history_target() -> str:
    """`$PYENGINE_HISTORY_DB` as given (a file or a postgresql:// URL), else the project's
    `.pyengine/history.sqlite`."""
    return os.environ.get("PYENGINE_HISTORY_DB") or str(default_history_path())


@dataclass
class RunRow:
    """One stored run, as `pyengine history` lists it."""

    id: int
    playbook: str
    inventory: str
    git_revision: str
    user: str
    started: str
    finished: str
    exit_code: int
    check_mode: bool


def summarize_diff(diff: Any, limit: int = 400) -> str:
    """A short, masked, one-string summary of a module's diff (before/after headers and size)."""
    if not diff:
        return ""
    diffs = diff if isinstance(diff, list) else [diff]
    parts = []
    for item in diffs:
        if isinstance(item, dict):
            header = item.get("after_header") or item.get("before_header") or ""
            before, after = str(item.get("before", "")), str(item.get("after", ""))
            parts.append(f"{header}: {len(before.splitlines())} -> {len(after.splitlines())} lines")
        else:
            parts.append(str(item))
    return mask_text("; ".join(parts))[:limit]


def health_rows(health: Any) -> list[tuple[str, str, str, str, float | None, str]]:
    """(taken, check, item, state, value, reason) rows of a host's `extra.health`; each
    listening port is a `listen` row (item = port, reason = process) so the next run can
    tell a new one."""
    if not isinstance(health, dict):
        return []
    taken = str(health.get("taken", ""))
    rows: list[tuple[str, str, str, str, float | None, str]] = []
    for check in health.get("checks") or []:
        if not isinstance(check, dict) or check.get("skipped"):
            continue
        value = check.get("value")
        rows.append((taken, str(check.get("check", "")), str(check.get("item", "")),
                     str(check.get("state", "ok")),
                     float(value) if isinstance(value, (int, float)) else None,
                     str(check.get("reason", ""))[:500]))
    for port in health.get("ports") or []:
        if isinstance(port, dict) and "port" in port:
            rows.append((taken, "listen", str(port["port"]), "ok", None,
                         str(port.get("process", ""))))
    return rows


@dataclass
class HealthSample:
    """One stored health row."""

    run_id: int
    taken: str
    check: str
    item: str
    state: str
    value: float | None
    reason: str


class _Cursor:
    """A cursor that takes the shared SQL (`?` parameters) on either engine."""

    def __init__(self, db: HistoryDB, raw: Any) -> None:
        self._db = db
        self.raw = raw

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.raw.execute(self._db.dialect.sql(sql), params)

    def insert(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run an INSERT; returns the new row's id."""
        return self._db.dialect.insert(self.raw, sql, params)

    @property
    def rowcount(self) -> int:
        return int(self.raw.rowcount)


class HistoryDB:
    """The history database; opening it applies any pending migrations.

    `target` is a file path (the embedded default), `sqlite:///FILE` or a
    `postgresql://` URL (the shared history of several machines)."""

    def __init__(self, target: str | Path) -> None:
        self.dialect = dialect_for(target)
        self.location = display(target)
        # The file of a SQLite history; for a server, the URL without its password.
        self.path = Path(self.location) if is_url(target) and self.dialect.name != "sqlite" \
            else Path(str(target).removeprefix("sqlite:///") if is_url(target) else target)
        self._conn = self.dialect.connect(target)
        try:
            self._guard(self.dialect.prepare, self._conn)
            self.migrate()
        except BaseException:
            self._conn.close()
            raise

    def _guard(self, func: Any, *args: Any) -> Any:
        """Every database call goes through here, so a damaged file (truncated, garbage, not
        a database) or a server error is one clear error instead of a driver traceback."""
        try:
            return func(*args)
        except self.dialect.errors as err:
            if self.dialect.name == "sqlite":
                raise HistoryError(
                    f"{self.location}: the run history is damaged or not a pyengine history "
                    f"({err}); move it aside and the next run starts a new one") from None
            raise HistoryError(f"{self.location}: {str(err).strip().splitlines()[0]}") from None

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._guard(self._conn.execute, self.dialect.sql(sql), params)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._guard(self.dialect.version, self._conn))

    def migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, one transaction per step. The version is
        read again under the migration lock, so processes opening a new shared database at
        the same time apply each step once."""
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.location}: history schema v{current} is newer than this pyengine "
                f"(v{SCHEMA_VERSION}); upgrade pyengine"
            )
        for version in range(current, SCHEMA_VERSION):
            with self._transaction() as cur:
                self.dialect.lock(cur.raw)
                if self.dialect.version(self._conn) > version:
                    continue  # another process applied this step meanwhile
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        cur.raw.execute(self.dialect.ddl(statement))
                self.dialect.set_version(cur.raw, version + 1)

    @contextmanager
    def _transaction(self) -> Iterator[_Cursor]:
        raw = self._conn.cursor()
        self._guard(raw.execute, "BEGIN")
        try:
            yield _Cursor(self, raw)
        except self.dialect.errors as err:
            raw.execute("ROLLBACK")
            self._guard(_raise, err)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        self._guard(raw.execute, "COMMIT")

    def record_run(
        self,
        report: dict[str, Any],
        inventory: str = "",
        git_revision: str = "",
        user: str | None = None,
        job: tuple[str, str] | None = None,
    ) -> int:
        """Store a run from its JSON report (docs/ARCHITECTURE.md); returns the run id.
        With `job` (id, worker) the distributed job is marked done and its hosts released
        in the same transaction: a worker dying in between cannot leave a recorded run
        whose job would run again."""
        report = mask(report)
        with self._transaction() as cur:
            run_id = cur.insert(
                "INSERT INTO runs (playbook, inventory, git_revision, \"user\", started, finished,"
                " exit_code, check_mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(report.get("playbook", "")),
                    inventory,
                    git_revision,
                    user if user is not None else getpass.getuser(),
                    str(report.get("started", "")),
                    str(report.get("finished", "")),
                    int(report.get("exit_code", 0)),
                    int(bool(report.get("check_mode", False))),
                ),
            )
            for host, data in sorted(report.get("hosts", {}).items()):
                host_result_id = cur.insert(
                    "INSERT INTO host_results (run_id, host, ok, changed, failed, skipped,"
                    " unreachable, round_trips, extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        host,
                        int(data.get("ok", 0)),
                        int(data.get("changed", 0)),
                        int(data.get("failed", 0)),
                        int(data.get("skipped", 0)),
                        int(bool(data.get("unreachable", False))),
                        int(data.get("round_trips", 0)),
                        json.dumps(data.get("extra", {}), sort_keys=True),
                    ),
                )
                for sample in health_rows((data.get("extra") or {}).get("health")):
                    cur.execute(
                        "INSERT INTO health_samples (run_id, host, taken, check_name, item,"
                        " state, value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, host, *sample),
                    )
                for seq, task in enumerate(data.get("tasks", [])):
                    status = str(task.get("status", ""))
                    cur.execute(
                        "INSERT INTO task_results (host_result_id, seq, name, module, status,"
                        " changed, duration_s, diff_summary, error)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            host_result_id,
                            seq,
                            str(task.get("name", "")),
                            str(task.get("module", "")),
                            status,
                            int(bool(task.get("changed", False))),
                            float(task.get("duration_s", 0.0)),
                            summarize_diff(task.get("diff")),
                            str(task.get("msg", "")) if status in ("failed", "unreachable") else "",
                        ),
                    )
            if job is not None:
                self._finish(cur, job[0], job[1], "done", run_id,
                             int(report.get("exit_code", 0)), "")
        return run_id

    def runs(self, host: str | None = None, last: int = 20) -> list[RunRow]:
        """The newest runs first; with `host`, only runs that touched it."""
        if host:
            rows = self._execute(
                "SELECT r.* FROM runs r JOIN host_results h ON h.run_id = r.id"
                " WHERE h.host = ? ORDER BY r.id DESC LIMIT ?",
                (host, last),
            ).fetchall()
        else:
            rows = self._execute(
                "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (last,)
            ).fetchall()
        return [
            RunRow(
                id=r["id"],
                playbook=r["playbook"],
                inventory=r["inventory"],
                git_revision=r["git_revision"],
                user=r["user"],
                started=r["started"],
                finished=r["finished"],
                exit_code=r["exit_code"],
                check_mode=bool(r["check_mode"]),
            )
            for r in rows
        ]

    def host_results(self, run_id: int) -> list[dict[str, Any]]:
        """Per-host counts of one run, with the stored extra data decoded."""
        rows = self._execute(
            "SELECT * FROM host_results WHERE run_id = ? ORDER BY host", (run_id,)
        ).fetchall()
        results = []
        for r in rows:
            item = {k: r[k] for k in r.keys() if k != "extra_json"}
            item["unreachable"] = bool(item["unreachable"])
            item["extra"] = json.loads(r["extra_json"] or "{}")
            results.append(item)
        return results

    def task_results(self, run_id: int, host: str) -> list[dict[str, Any]]:
        """The task rows of one host in one run, in execution order."""
        rows = self._execute(
            "SELECT t.* FROM task_results t JOIN host_results h ON t.host_result_id = h.id"
            " WHERE h.run_id = ? AND h.host = ? ORDER BY t.seq",
            (run_id, host),
        ).fetchall()
        return [{k: r[k] for k in r.keys()} for r in rows]

    def health_samples(self, host: str, check: str | None = None, item: str | None = None,
                       since: str = "", before_run: int | None = None,
                       limit: int = 2000) -> list[HealthSample]:
        """A host's health rows, oldest first: of one check (and item) when given, taken at
        or after `since` (ISO-8601), from runs before `before_run` when given."""
        sql = "SELECT * FROM health_samples WHERE host = ?"
        params: list[Any] = [host]
        for column, value in (("check_name", check), ("item", item)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        if since:
            sql += " AND taken >= ?"
            params.append(since)
        if before_run is not None:
            sql += " AND run_id < ?"
            params.append(before_run)
        sql += " ORDER BY run_id DESC, id LIMIT ?"
        params.append(limit)
        rows = self._execute(sql, tuple(params)).fetchall()
        return [HealthSample(r["run_id"], r["taken"], r["check_name"], r["item"], r["state"],
                             r["value"], r["reason"]) for r in reversed(rows)]

    def last_health(self, host: str, before_run: int | None = None) -> list[HealthSample]:
        """Every health row of the host's newest run that has some (before `before_run`)."""
        sql = "SELECT MAX(run_id) AS newest FROM health_samples WHERE host = ?"
        params: list[Any] = [host]
        if before_run is not None:
            sql += " AND run_id < ?"
            params.append(before_run)
        newest = self._execute(sql, tuple(params)).fetchone()["newest"]
        if newest is None:
            return []
        rows = self._execute("SELECT * FROM health_samples WHERE host = ? AND run_id = ?"
                             " ORDER BY id", (host, newest)).fetchall()
        return [HealthSample(r["run_id"], r["taken"], r["check_name"], r["item"], r["state"],
                             r["value"], r["reason"]) for r in rows]

    def add_health_samples(self, run_id: int, host: str,
                           rows: list[tuple[str, str, str, str, float | None, str]]) -> None:
        """Store health rows for a run (the trend tests seed older runs this way)."""
        with self._transaction() as cur:
            for sample in rows:
                cur.execute(
                    "INSERT INTO health_samples (run_id, host, taken, check_name, item,"
                    " state, value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, host, *sample),
                )


    # Jobs and host leases of distributed runs (pyengine/distributed/).

    def claim_job(self, job_id: str, submission: str, hosts: list[str], worker: str,
                  ttl: float) -> JobClaim:
        """Take the job's hosts for `ttl` seconds: "run" when this worker may run it now,
        "done" when it already finished (a second delivery), "busy" while another live
        worker holds one of its hosts."""
        now = time.time()
        with self._transaction() as cur:
            self.dialect.lock(cur.raw)
            row = cur.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None and row["state"] == "done":
                return JobClaim("done", run_id=row["run_id"], exit_code=row["exit_code"])
            for host in hosts:
                lease = cur.execute("SELECT * FROM host_leases WHERE host = ?",
                                    (host,)).fetchone()
                if lease is not None and lease["expires"] > now and not (
                        lease["job_id"] == job_id and lease["worker"] == worker):
                    return JobClaim("busy", holder=f"{lease['worker']} ({lease['job_id']})")
            note = ""
            if row is not None and row["state"] == "running" and row["worker"] != worker:
                note = f"taken over from {row['worker']} (its lease expired)"
            for host in hosts:
                cur.execute("DELETE FROM host_leases WHERE host = ?", (host,))
                cur.execute("INSERT INTO host_leases (host, job_id, worker, expires)"
                            " VALUES (?, ?, ?, ?)", (host, job_id, worker, now + ttl))
            stamp = _utc(now)
            if row is None:
                cur.execute("INSERT INTO jobs (id, submission, hosts, state, worker, attempts,"
                            " updated, note) VALUES (?, ?, ?, 'running', ?, 1, ?, '')",
                            (job_id, submission, ",".join(hosts), worker, stamp))
            else:
                joined = "; ".join(n for n in (row["note"], note) if n)
                cur.execute("UPDATE jobs SET state = 'running', worker = ?, attempts = ?,"
                            " updated = ?, note = ? WHERE id = ?",
                            (worker, int(row["attempts"]) + 1, stamp, joined, job_id))
        return JobClaim("run", note=note)

    def renew_leases(self, job_id: str, worker: str, ttl: float) -> None:
        """Keep a running job's hosts (called well within `ttl`)."""
        with self._transaction() as cur:
            cur.execute("UPDATE host_leases SET expires = ? WHERE job_id = ? AND worker = ?",
                        (time.time() + ttl, job_id, worker))

    def finish_job(self, job_id: str, worker: str, state: str, run_id: int | None,
                   exit_code: int | None, note: str = "") -> None:
        """Record how the job ended and give its hosts back."""
        with self._transaction() as cur:
            self._finish(cur, job_id, worker, state, run_id, exit_code, note)

    @staticmethod
    def _finish(cur: _Cursor, job_id: str, worker: str, state: str, run_id: int | None,
                exit_code: int | None, note: str) -> None:
        row = cur.execute("SELECT note FROM jobs WHERE id = ?", (job_id,)).fetchone()
        joined = "; ".join(n for n in ((row["note"] if row else ""), note) if n)
        cur.execute("UPDATE jobs SET state = ?, run_id = ?, exit_code = ?, updated = ?,"
                    " note = ? WHERE id = ?",
                    (state, run_id, exit_code, _utc(time.time()), joined, job_id))
        cur.execute("DELETE FROM host_leases WHERE job_id = ? AND worker = ?",
                    (job_id, worker))

    def jobs(self, submission: str | None = None) -> list[dict[str, Any]]:
        """The jobs of one submission (or all), oldest first."""
        if submission is None:
            rows = self._execute("SELECT * FROM jobs ORDER BY id").fetchall()
        else:
            rows = self._execute("SELECT * FROM jobs WHERE submission = ? ORDER BY id",
                                 (submission,)).fetchall()
        return [{k: r[k] for k in r.keys()} for r in rows]


@dataclass
class JobClaim:
    """What `claim_job` decided: "run", "done" or "busy" (with who holds the hosts)."""

    outcome: str
    note: str = ""
    holder: str = ""
    run_id: int | None = None
    exit_code: int | None = None


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _raise(err: BaseException) -> None:
    raise err
