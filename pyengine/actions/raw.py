"""Run a command over the connection without the agent (hosts without Python, bootstrap).

The command line goes to the remote shell as written (like Ansible's raw): this is
the one place a shell string is intended; use `command` for anything else.
"""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "_raw_params": {"type": "str", "required": True, "aliases": ["free_form"],
                    "help": "The command line, run by the remote user's shell."},
    "executable": {"type": "str", "help": "Shell to run it with (default /bin/sh)."},
}
FREE_FORM = "_raw_params"
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    if ctx.check_mode:
        return {"changed": False, "skipped": True, "msg": "raw does not run in check mode"}
    shell = str(ctx.args.get("executable") or "/bin/sh")
    rc, out, err = ctx.host_ops.exec_raw([shell, "-c", str(ctx.args["_raw_params"])])
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    result = {"changed": True, "rc": rc, "stdout": stdout, "stderr": stderr,
              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if rc != 0:
        result["failed"] = True
        result["msg"] = f"non-zero return code {rc}"
    return result
