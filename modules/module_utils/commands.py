"""What `command` and `shell` share: creates/removes, check mode, running, the result.

A shared target-side helper (stdlib only, Python 3.7+): a module imports it with
`from module_utils.commands import execute` and the agent ships it with the module,
once per run, like Ansible's module_utils.
"""

import datetime
import glob
import os


def _now():
    return datetime.datetime.now()


def exists(pattern):
    """A path or a glob that matches something (a dangling link counts)."""
    return bool(glob.glob(pattern)) or os.path.lexists(pattern)


def execute(m, argv, shown):
    """Run argv for `command`/`shell`; `shown` is what the result's `cmd` says."""
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
        if exists(os.path.expanduser(path)):
            result.update(rc=0, stdout="skipped, since %s exists" % creates,
                          msg="Did not run command since '%s' exists" % creates)
            return with_lines(result)
    if removes:
        path = os.path.join(chdir, removes) if chdir else removes
        if not exists(os.path.expanduser(path)):
            result.update(rc=0, stdout="skipped, since %s does not exist" % removes,
                          msg="Did not run command since '%s' does not exist" % removes)
            return with_lines(result)
    if m.check_mode:
        result["msg"] = "Command would have run if not in check mode"
        if creates is None and removes is None:
            # Ansible's rule: without creates/removes the outcome is unknown, so skip.
            result["skipped"] = True
        else:
            result["changed"] = True
        return with_lines(result)

    exe = argv[0]
    if os.sep not in exe and not m.which(exe):
        result["rc"] = 2
        m.fail("No such file or directory: '%s' (not found on PATH)" % exe, **with_lines(result))
    data = p.get("stdin")
    if data is not None and p.get("stdin_add_newline", True):
        data += "\n"
    start = _now()
    try:
        rc, out, err = m.run(argv, data=data, cwd=chdir)
    except OSError as exc:
        result["rc"] = 2
        m.fail("Error executing %s: %s" % (exe, exc), **with_lines(result))
    end = _now()
    if p.get("strip_empty_ends", True):
        out, err = out.rstrip("\r\n"), err.rstrip("\r\n")
    result.update(rc=rc, stdout=out, stderr=err, changed=True, msg="",
                  start=str(start), end=str(end), delta=str(end - start))
    if rc != 0:
        result["failed"] = True
        result["msg"] = "non-zero return code"
    return with_lines(result)


def with_lines(result):
    result["stdout_lines"] = result["stdout"].splitlines()
    result["stderr_lines"] = result["stderr"].splitlines()
    return result
