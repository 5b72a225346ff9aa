"""Controller files sent to the target `copy` module as bytes (copy with `src`, template).

The target never reads the controller's disk: the bytes travel inside the batch
as `_content_b64` (docs/ARCHITECTURE.md, runtime details), so a no-op copy or
template costs nothing but the bytes of its batch. A file of STREAM_AT bytes or more
travels as a reference instead (`_stream_ref`, `_stream_sha1`, `_stream_size`): the
target asks for its bytes, in chunks, only when its own copy differs.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

from pyengine.actions.base import ActionContext, ActionFailed
from pyengine.agent import streams
from pyengine.templating.controller_files import is_vaulted, read_bytes

# Target `copy` arguments a controller-side copy/template passes through unchanged.
PASS_THROUGH = ("dest", "backup", "force", "validate", "owner", "group", "mode",
                "directory_mode", "follow", "checksum", "unsafe_writes")


def content_args(data: bytes | Path, args: dict[str, Any], name: str | None,
                 src_mode: int | None) -> dict[str, Any]:
    """The target `copy` arguments for bytes, or for a controller file: a big file is
    streamed on request (pyengine/agent/streams.py), never read whole here; a
    vault-encrypted one is sent decrypted unless the task says `decrypt: false`."""
    out = {k: args[k] for k in PASS_THROUGH if args.get(k) is not None}
    if isinstance(data, Path) and args.get("decrypt", True) is not False:
        with data.open("rb") as handle:
            if is_vaulted(handle.read(64)):
                data = read_bytes(data)
    if isinstance(data, Path) and data.stat().st_size >= streams.STREAM_AT:
        ref, sha1, size = streams.register(data)
        out.update({"_stream_ref": ref, "_stream_sha1": sha1, "_stream_size": size})
    else:
        raw = data.read_bytes() if isinstance(data, Path) else data
        out["_content_b64"] = base64.b64encode(raw).decode("ascii")
    if name:
        out["_src_name"] = name
    if src_mode is not None:
        out["_src_mode"] = f"{src_mode:04o}"
    return out


def transform_copy(ctx: ActionContext) -> list[tuple[str, dict[str, Any]]]:
    """`copy: src=...` from the role's or playbook's files/; a folder recurses."""
    src = str(ctx.args["src"])
    path = ctx.find_file("files", src)
    if path is None:
        raise ActionFailed(f"could not find src={src} in "
                           + ", ".join(str(d) for d in ctx.search_dirs("files")))
    dest = str(ctx.args.get("dest", ""))
    if path.is_file():
        mode = stat.S_IMODE(path.stat().st_mode)
        return [("copy", content_args(path, ctx.args, path.name, mode))]
    # A folder: `src/` copies its contents into dest, `src` copies the folder itself.
    root = dest.rstrip("/") if src.endswith("/") else os.path.join(dest, path.name)
    items: list[tuple[str, dict[str, Any]]] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).parent
        folder = root if str(rel) == "." else os.path.join(root, str(rel))
        args = dict(ctx.args)
        args["dest"] = folder.rstrip("/") + "/"
        items.append(("copy", content_args(file, args, file.name,
                                           stat.S_IMODE(file.stat().st_mode))))
    if not items:
        raise ActionFailed(f"src folder {path} holds no files")
    return items


def read_controller_file(ctx: ActionContext, kind: str, name: str) -> Path:
    path = ctx.find_file(kind, name)
    if path is None or not path.is_file():
        raise ActionFailed(f"could not find src={name} in "
                           + ", ".join(str(d) for d in ctx.search_dirs(kind)))
    return path
