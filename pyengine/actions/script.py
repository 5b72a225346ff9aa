"""Send a script from the controller (files/ of the role or playbook) and run it.

The script travels as the stdin of `/bin/sh -s` (or the given interpreter with
`-`), so nothing is left on the host; `creates`/`removes` make it idempotent.
"""

from __future__ import annotations

import shlex
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "_raw_params": {"type": "str", "aliases": ["free_form", "cmd"],
                    "help": "The script path, optionally followed by its arguments."},
    "executable": {"type": "str", "help": "Interpreter (default: /bin/sh)."},
    "creates": {"type": "str", "help": "Skip when this path exists on the host."},
    "removes": {"type": "str", "help": "Skip when this path does not exist on the host."},
    "chdir": {"type": "str", "help": "Run in this folder on the host."},
}
FREE_FORM = "_raw_params"
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions._files import read_controller_file
    from pyengine.actions.base import ActionFailed

    words = shlex.split(str(ctx.args.get("_raw_params") or ""))
    if not words:
        raise ActionFailed("script: no script given")
    path = read_controller_file(ctx, "files", words[0])
    ops = ctx.host_ops
    for key, want in (("creates", True), ("removes", False)):
        target = ctx.args.get(key)
        if target:
            rc, _, _ = ops.exec_raw(["test", "-e", str(target)])
            if (rc == 0) == want:
                return {"changed": False,
                        "msg": f"skipped, since {target} {'exists' if want else 'does not exist'}",
                        "rc": 0}
    if ctx.check_mode:
        return {"changed": True, "msg": "would run the script (check mode)"}
    interpreter = shlex.split(str(ctx.args.get("executable") or "/bin/sh"))
    argv = interpreter + ["-s", "--"] + words[1:] if interpreter[-1].endswith("sh") else \
        interpreter + ["-"] + words[1:]
    if ctx.args.get("chdir"):
        argv = ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh",
                str(ctx.args["chdir"])] + argv
    rc, out, err = ops.exec_raw(argv, data=path.read_bytes())
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    result = {"changed": True, "rc": rc, "stdout": stdout, "stderr": stderr,
              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if rc != 0:
        result.update(failed=True, msg=f"non-zero return code {rc}")
    return result
