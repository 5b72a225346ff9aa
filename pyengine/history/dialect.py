"""Where the run history lives: an embedded SQLite file or a shared PostgreSQL server.

The history is written with one SQL text (SQLite's, with `?` parameters) and this small
layer is the only place that knows how the two engines differ: how to connect, where the
schema version is kept, how an insert returns its id, which errors mean "damaged" and
how the migrations' column types are spelled. SQLite stays the default and needs
nothing installed; PostgreSQL needs psycopg (the `distributed` extra), imported only
when a `postgresql://` URL is given, so a single machine never needs it.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pyengine.errors import PyengineError

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_url(target: str | Path) -> bool:
    """True for `scheme://...` (a PostgreSQL or `sqlite:///` URL), False for a file path."""
    return isinstance(target, str) and "://" in target


def sqlite_path(target: str | Path) -> Path | None:
    """The file of a SQLite history (a plain path or `sqlite:///path`), None for a server."""
    if isinstance(target, Path):
        return target
    if target.startswith("sqlite://"):
        # sqlite:///rel/file and sqlite:////abs/file, as SQLAlchemy spells them.
        return Path(target[len("sqlite:///"):] if target.startswith("sqlite:///")
                    else target[len("sqlite://"):])
    if is_url(target):
        return None
    return Path(target)


def display(target: str | Path) -> str:
    """The location for messages: a URL's password is never shown."""
    if not is_url(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def exists(target: str | Path) -> bool:
    """Whether there is a history to read (a server is assumed to be there)."""
    path = sqlite_path(target)
    return path.exists() if path is not None else True


@dataclass
class Dialect:
    """How one engine connects, keeps its schema version and spells the shared SQL."""

    name: str
    errors: tuple[type[BaseException], ...]

    def connect(self, target: str | Path) -> Any:
        raise NotImplementedError

    def prepare(self, conn: Any) -> None:
        """Session settings run once after connecting."""

    def sql(self, text: str) -> str:
        """The shared SQL (`?` parameters) as this engine takes it."""
        return text

    def ddl(self, text: str) -> str:
        """A migration statement (written for SQLite) as this engine takes it."""
        return text

    def version(self, conn: Any) -> int:
        raise NotImplementedError

    def set_version(self, cur: Any, version: int) -> None:
        raise NotImplementedError

    def lock(self, cur: Any) -> None:
        """Serialize this transaction with every other pyengine one that locks (migrations,
        host leases), so two processes never both see "free" and both take it."""

    def insert(self, cur: Any, text: str, params: tuple[Any, ...]) -> int:
        """Run an INSERT and return the new row's id."""
        cur.execute(self.sql(text), params)
        return int(cur.lastrowid or 0)


class SQLiteDialect(Dialect):
    """The embedded default: one file, WAL, schema version in PRAGMA user_version."""

    def __init__(self) -> None:
        super().__init__("sqlite", (sqlite3.DatabaseError,))

    def connect(self, target: str | Path) -> Any:
        path = sqlite_path(target)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def prepare(self, conn: Any) -> None:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")

    def version(self, conn: Any) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, cur: Any, version: int) -> None:
        cur.execute(f"PRAGMA user_version = {int(version)}")


_PG_TYPES = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I), "SERIAL PRIMARY KEY"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
]
# Any fixed number: every pyengine process takes the same advisory lock.
_LOCK_KEY = 7_130_020


class PostgresDialect(Dialect):
    """The shared history: schema version in a one-row table, ids from RETURNING."""

    def __init__(self) -> None:
        try:
            import psycopg
        except ImportError:
            raise PyengineError(
                "a postgresql:// history needs psycopg: pip install 'pyengine[distributed]'"
            ) from None
        super().__init__("postgresql", (psycopg.Error,))

    def connect(self, target: str | Path) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        timeout = int(os.environ.get("PYENGINE_HISTORY_CONNECT_TIMEOUT", "10"))
        try:
            return psycopg.connect(str(target), autocommit=True, row_factory=dict_row,
                                   connect_timeout=timeout)
        except psycopg.Error as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise PyengineError(f"cannot reach the history database {display(target)}: "
                                f"{first}") from None

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def ddl(self, text: str) -> str:
        for pattern, spelled in _PG_TYPES:
            text = pattern.sub(spelled, text)
        return text

    def prepare(self, conn: Any) -> None:
        # The version table exists before any migration reads it: created under the lock,
        # so two processes opening a new database never race on it, and read with a plain
        # SELECT (a catalog lookup could miss a table another process just committed).
        conn.execute("BEGIN")
        try:
            self.lock(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS pyengine_schema (version INTEGER NOT NULL)")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def version(self, conn: Any) -> int:
        row = conn.execute("SELECT MAX(version) AS version FROM pyengine_schema").fetchone()
        return int(row["version"] or 0)

    def set_version(self, cur: Any, version: int) -> None:
        cur.execute("DELETE FROM pyengine_schema")
        cur.execute("INSERT INTO pyengine_schema (version) VALUES (%s)", (int(version),))

    def lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))

    def insert(self, cur: Any, text: str, params: tuple[Any, ...]) -> int:
        cur.execute(self.sql(text) + " RETURNING id", params)
        row = cur.fetchone()
        return int(row["id"])


def dialect_for(target: str | Path) -> Dialect:
    """The dialect of a history location (a path, `sqlite:///...` or `postgresql://...`)."""
    if sqlite_path(target) is not None:
        return SQLiteDialect()
    scheme = urlsplit(str(target)).scheme.split("+")[0]
    if scheme in POSTGRES_SCHEMES:
        return PostgresDialect()
    raise PyengineError(f"history database {display(target)}: unknown kind {scheme!r} "
                        f"(use a file path, sqlite:///FILE or postgresql://...)")
