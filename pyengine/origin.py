"""Where a value came from: a file, line and column, for error messages and `inventory host`.

The bottom layer: YAML loading, inventories, module specs and playbooks all record origins,
so this module imports nothing of pyengine's and any layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """Where a YAML node came from, for error messages (1-based line and column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file
