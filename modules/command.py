"""Run a command on the target, without a shell.

The command is split like a POSIX shell would split words (quotes honoured) but
never interpreted by one: no pipes, redirections, globbing or `;`. Use `shell`
for those. `creates`/`removes` make it idempotent; otherwise it always reports
`changed` (a playbook narrows that with `changed_when`).
"""

import datetime
import os
import shlex

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


def _now():
    return datetime.datetime.now()


def _exists(pattern):
    import glob
    return bool(glob.glob(pattern)) or os.path.lexists(pattern)


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
    return _execute(m, argv, shown)


def _execute(m, argv, shown):
    """Shared shape of `command` and `shell` (copied there; modules are self-contained)."""
    p = m.params
    result = {"cmd": shown, "rc": None, "stdout": "", "stderr": "", "changed": False}
    chdir = p.get("chdir")
    if chdir:
        chdir = os.path.abspath(os.path.expanduser(chdir))
        if not os.path.isdir(chdir):
            m.fail("Unable to change directory before execution: %s is not a directory" % chdir,
                   **result)
    creates, removes = p.get("creates"), p.get("removes")
    if creates:
        path = os.path.join(chdir, creates) if chdir else creates
        if _exists(os.path.expanduser(path)):
            result.update(rc=0, stdout="skipped, since %s exists" % creates,
                          msg="Did not run command since '%s' exists" % creates)
            return _lines(result)
    if removes:
        path = os.path.join(chdir, removes) if chdir else removes
        if not _exists(os.path.expanduser(path)):
            result.update(rc=0, stdout="skipped, since %s does not exist" % removes,
                          msg="Did not run command since '%s' does not exist" % removes)
            return _lines(result)
    if m.check_mode:
        result["msg"] = "Command would have run if not in check mode"
        if creates is None and removes is None:
            # Ansible's rule: without creates/removes the outcome is unknown, so skip.
            result["skipped"] = True
        else:
            result["changed"] = True
        return _lines(result)

    exe = argv[0]
    if os.sep not in exe and not m.which(exe):
        result["rc"] = 2
        m.fail("No such file or directory: '%s' (not found on PATH)" % exe, **_lines(result))
    data = p.get("stdin")
    if data is not None and p.get("stdin_add_newline", True):
        data += "\n"
    start = _now()
    try:
        rc, out, err = m.run(argv, data=data, cwd=chdir)
    except OSError as exc:
        result["rc"] = 2
        m.fail("Error executing %s: %s" % (exe, exc), **_lines(result))
    end = _now()
    if p.get("strip_empty_ends", True):
        out, err = out.rstrip("\r\n"), err.rstrip("\r\n")
    result.update(rc=rc, stdout=out, stderr=err, changed=True, msg="",
                  start=str(start), end=str(end), delta=str(end - start))
    if rc != 0:
        result["failed"] = True
        result["msg"] = "non-zero return code"
    return _lines(result)


def _lines(result):
    result["stdout_lines"] = result["stdout"].splitlines()
    result["stderr_lines"] = result["stderr"].splitlines()
    return result
