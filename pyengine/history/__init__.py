"""Run history: every run's per-host, per-task outcome in an embedded SQLite file."""

from pyengine.history.db import HistoryDB, default_history_path

__all__ = ["HistoryDB", "default_history_path"]
