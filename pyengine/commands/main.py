"""The `pyengine` command line: a click group whose subcommands load lazily.

Each subcommand has its own module in `pyengine/commands/` (`commands/lab.py`, ...),
the one package that wires the layers together, and is imported only when used, so
`pyengine lab status` does not pay for paramiko and jinja2. Expected failures
(`PyengineError`) print one line on stderr and exit with their documented code; nothing
else is caught here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from types import TracebackType
from typing import Any

import click

from pyengine import __version__
from pyengine.errors import EXIT_ERROR, EXIT_INTERRUPTED, PyengineError
from pyengine.masking import mask_text

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "lab": "pyengine.commands.lab:lab",
    "inventory": "pyengine.commands.inventory:inventory",
    "check-syntax": "pyengine.commands.check_syntax:check_syntax",
    "doc": "pyengine.commands.doc:doc",
    "run": "pyengine.commands.run:run",
    "vault": "pyengine.commands.vault:vault",
    "patch": "pyengine.commands.patch:patch",
    "backup": "pyengine.commands.backup:backup",
    "history": "pyengine.commands.history:history",
    "report": "pyengine.commands.report:report",
    "schedule": "pyengine.commands.schedule:schedule",
    "compliance": "pyengine.commands.compliance:compliance_cmd",
    "health": "pyengine.commands.health:health",
    "init": "pyengine.commands.init:init",
    "submit": "pyengine.commands.submit:submit",
    "worker": "pyengine.commands.worker:worker",
    "persist": "pyengine.commands.persist:persist",
}


def _find_spec(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is invoked or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _find_spec(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _find_spec(target):
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pyengine")
def cli() -> None:
    """Idempotent patching, config backup and security baselines over SSH and WinRM."""


def _masked_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Print an internal error's traceback with secrets masked (it may quote a vault value)."""
    sys.stderr.write(mask_text("".join(traceback.format_exception(kind, value, tb))))


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: run the CLI, turning expected errors into one line."""
    sys.excepthook = _masked_excepthook
    try:
        return cli.main(args=argv, prog_name="pyengine", standalone_mode=False)
    except PyengineError as err:
        # An error message may quote a value that came from a vault.
        click.echo(f"error: {mask_text(str(err))}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as err:
        err.show()
        # click gives usage errors 2, which pyengine documents as "a task failed": a
        # scheduler must not mistake a typo in the command line for a failed host.
        sys.exit(EXIT_ERROR if isinstance(err, click.UsageError) else err.exit_code)


if __name__ == "__main__":
    main()
