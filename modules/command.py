"""Run a command on the target, without a shell.

The command is split like a POSIX shell would split words (quotes honoured) but
never interpreted by one: no pipes, redirections, globbing or `;`. Use `shell`
for those. `creates`/`removes` make it idempotent; otherwise it always reports
`changed` (a playbook narrows that with `changed_when`).
"""

import os
import shlex

from module_utils.commands import execute

ARGS = {
    "_raw_params": {"type": "str", "aliases": ["free_form"],
                    "help": "The command line, split into words with shell quoting rules."},
    "cmd": {"type": "str", "help": "The command line, as an argument instead of free form."},
    "argv": {"type": "list", "elements": "str",
             "help": "The command as a list of words; no splitting happens."},
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
    "expand_argument_vars": {"type": "bool", "default": True,
                             "help": "Expand ~ and $VARS in the words (as Ansible does)."},
}
MUTUALLY_EXCLUSIVE = [["_raw_params", "cmd", "argv"]]
REQUIRED_ONE_OF = [["_raw_params", "cmd", "argv"]]


def main(m):
    p = m.params
    if p.get("argv"):
        argv = [str(a) for a in p["argv"]]
        shown = argv
    else:
        line = p.get("_raw_params") or p.get("cmd") or ""
        if not line.strip():
            m.fail("no command given")
        argv = shlex.split(line)
        if p.get("expand_argument_vars", True):
            argv = [os.path.expandvars(os.path.expanduser(a)) for a in argv]
        shown = argv
    return execute(m, argv, shown)
