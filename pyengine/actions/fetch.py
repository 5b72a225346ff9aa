"""Copy a file from the host to the controller: `dest/<host>/<path>`, or `dest` with flat."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from pyengine.actions.base import ActionContext
from pyengine.paths import expand_user

ARGS = {
    "src": {"type": "str", "required": True, "help": "The file on the host."},
    "dest": {"type": "str", "required": True, "help": "Folder (or file, with flat) on the "
                                                      "controller."},
    "flat": {"type": "bool", "default": False,
             "help": "Put the file at dest itself (or dest/basename when dest ends in /)."},
    "fail_on_missing": {"type": "bool", "default": True, "help": "Fail if src is missing."},
    "validate_checksum": {"type": "bool", "default": True, "help": "Compare checksums."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    import base64

    from pyengine.actions.base import ActionFailed
    from pyengine.safepath import UnsafePath, contained

    src = str(ctx.args["src"])
    got = ctx.host_ops.run_module("slurp", {"src": src})
    if got.get("failed"):
        if not ctx.args.get("fail_on_missing", True):
            return {"changed": False, "msg": f"the remote file does not exist: {src}",
                    "file": src}
        raise ActionFailed(got.get("msg") or f"cannot read {src}", file=src)
    data = base64.b64decode(got.get("content", ""))
    dest = expand_user(str(ctx.args["dest"]))
    if not dest.is_absolute():
        dest = ctx.basedir / dest
    # The user chose `dest`; the part below it comes from `src`, which may come from
    # the target (a registered listing): it must not climb out of `dest`.
    try:
        if not ctx.args.get("flat"):
            target = contained(dest, f"{ctx.host}/{src}", "fetched path")
        elif str(ctx.args["dest"]).endswith("/"):
            target = contained(dest, os.path.basename(src.rstrip("/")), "fetched file name")
        else:
            target = dest
    except UnsafePath as err:
        raise ActionFailed(str(err), file=src) from None
    checksum = hashlib.sha1(data).hexdigest()
    if target.is_file() and hashlib.sha1(target.read_bytes()).hexdigest() == checksum:
        return {"changed": False, "dest": str(target), "checksum": checksum,
                "msg": "file already fetched"}
    if ctx.check_mode:
        return {"changed": True, "dest": str(target), "msg": "would fetch (check mode)"}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.pyengine-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return {"changed": True, "dest": str(target), "checksum": checksum, "src": src,
            "msg": "fetched"}
