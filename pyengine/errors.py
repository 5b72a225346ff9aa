"""The error hierarchy: every expected failure carries its exit code and one line to print.

The CLI catches `PyengineError` and prints `str(err)` without a traceback, so each
message must stand on its own: where it happened (file:line:col), what was wrong,
and, where one fits, what was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Exit codes are part of the public contract (README, schedulers rely on them).
EXIT_OK = 0
EXIT_ERROR = 1  # internal or usage error
EXIT_TASK_FAILED = 2  # at least one task failed on at least one host
EXIT_INVALID_INPUT = 3  # playbook, inventory, vault or argument error: nothing was run
EXIT_UNREACHABLE = 4  # at least one host could not be reached
EXIT_LOCKED = 5  # another run holds the run lock
EXIT_INTERRUPTED = 130  # Ctrl-C


class PyengineError(Exception):
    """Base of every error the CLI reports in one line."""

    exit_code = EXIT_ERROR


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' when a close match exists, else ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


class PlaybookError(PyengineError):
    """A playbook, inventory, role or variables file is wrong; names file:line:col."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str = "",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        loc = self.location
        return f"{loc}: {self.message}{self.hint}" if loc else f"{self.message}{self.hint}"


class PlaybookErrors(PlaybookError):
    """Several validation errors found in one pass; all of them are reported."""

    def __init__(self, errors: list[PlaybookError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, first.file, first.line, first.column, first.hint)

    def __str__(self) -> str:
        return "\n".join(PlaybookError.__str__(e) for e in self.errors)


class TemplateError(PlaybookError):
    """A template failed to render (undefined variable, bad filter, syntax)."""


class VaultError(PyengineError):
    """Wrong password, tampered ciphertext or unreadable vault file."""

    exit_code = EXIT_INVALID_INPUT


class HostUnreachable(PyengineError):
    """The host could not be reached or the connection dropped."""

    exit_code = EXIT_UNREACHABLE

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"{host}: unreachable: {reason}")


class LabError(PyengineError):
    """The lab cannot be brought up, reset or taken down (says what to install or fix)."""


class RunLocked(PyengineError):
    """Another pyengine run holds the lock."""

    exit_code = EXIT_LOCKED
