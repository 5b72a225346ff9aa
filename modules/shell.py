"""Run a command line through a shell (/bin/sh unless `executable` says otherwise).

Pipes, redirections, variables and globbing work, because a shell reads the line.
Prefer `command` when none of that is needed. `creates`/`removes` make it
idempotent; otherwise it always reports `changed`.
"""

from module_utils.commands import execute

ARGS = {
    "_raw_params": {"type": "str", "aliases": ["free_form"],
                    "help": "The command line the shell runs."},
    "cmd": {"type": "str", "help": "The command line, as an argument instead of free form."},
    "executable": {"type": "path", "help": "The shell to use (absolute path); default /bin/sh."},
    "chdir": {"type": "path", "help": "Change into this directory before running."},
    "creates": {"type": "path",
                "help": "A path (or glob); when it exists the command is not run."},
    "removes": {"type": "path",
                "help": "A path (or glob); when it does not exist the command is not run."},
    "stdin": {"type": "str", "help": "Text fed to the command's standard input."},
    "stdin_add_newline": {"type": "bool", "default": True,
                          "help": "Append a newline to stdin."},
    "strip_empty_ends": {"type": "bool", "default": True,
                         "help": "Strip trailing newlines from stdout and stderr."},
}
MUTUALLY_EXCLUSIVE = [["_raw_params", "cmd"]]
REQUIRED_ONE_OF = [["_raw_params", "cmd"]]


def main(m):
    line = m.params.get("_raw_params") or m.params.get("cmd") or ""
    if not line.strip():
        m.fail("no command given")
    shell = m.params.get("executable") or "/bin/sh"
    # The line travels as one argv element: nothing is quoted or spliced here.
    return execute(m, [shell, "-c", line], line)
