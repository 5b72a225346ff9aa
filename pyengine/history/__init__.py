"""Run history: every run's per-host, per-task outcome, in an embedded SQLite file or a
shared PostgreSQL database (dialect.py)."""

from pyengine.history.db import HistoryDB, default_history_path, default_history_target

__all__ = ["HistoryDB", "default_history_path", "default_history_target"]
