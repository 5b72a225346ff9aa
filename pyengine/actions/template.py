"""Render a jinja2 template on the controller and put the result on the host.

The template comes from the role's `templates/` or the playbook's `templates/`;
it is rendered with the host's variables (sandboxed, as every template) and the
bytes go to the target `copy` module in the batch, so a template that is already
in place costs no extra round trip.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "src": {"type": "path", "required": True,
            "help": "The template file, in the role's or playbook's templates/."},
    "dest": {"type": "path", "required": True, "help": "Where the rendered file goes."},
    "mode": {"type": "raw", "help": "Octal or symbolic mode; 'preserve' keeps the template's."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "backup": {"type": "bool", "default": False, "help": "Keep a copy of the replaced file."},
    "force": {"type": "bool", "default": True, "help": "Replace a file that differs."},
    "validate": {"type": "str", "help": "Command run on the new file (%s) before it is used."},
    "follow": {"type": "bool", "default": False, "help": "Write through a symlink at dest."},
    "newline_sequence": {"type": "str", "default": "\n", "choices": ["\n", "\r", "\r\n"],
                         "help": "Line ending of the rendered file."},
    "trim_blocks": {"type": "bool", "default": True,
                    "help": "Remove the first newline after a block tag."},
    "lstrip_blocks": {"type": "bool", "default": False,
                      "help": "Strip whitespace before a block tag."},
    "output_encoding": {"type": "str", "default": "utf-8", "help": "Encoding of the file."},
    "unsafe_writes": {"type": "bool", "default": False, "help": "Accepted; writes are atomic."},
}
KIND = "transform"


def transform(ctx: ActionContext) -> list[tuple[str, dict[str, Any]]]:
    from pyengine.actions._files import content_args, read_controller_file
    from pyengine.actions.base import ActionFailed
    from pyengine.errors import PyengineError
    from pyengine.templating.controller_files import read_text

    path = read_controller_file(ctx, "templates", str(ctx.args["src"]))
    source = read_text(path)
    extra = {
        "template_path": str(path), "template_fullpath": str(path.resolve()),
        "template_destpath": str(ctx.args["dest"]), "template_host": os.uname().nodename,
    }
    if "ansible_managed" not in ctx.templar.variables:  # the user's own wins, as in Ansible
        extra["ansible_managed"] = "Ansible managed"
    # Ansible's jinja settings for template files; a `#jinja2:` first line overrides them.
    overrides = {"trim_blocks": bool(ctx.args.get("trim_blocks", True)),
                 "lstrip_blocks": bool(ctx.args.get("lstrip_blocks", False)),
                 "newline_sequence": ctx.args.get("newline_sequence") or "\n"}
    try:
        text = ctx.templar.child(extra).render_text(source, overrides)
    except PyengineError as err:
        raise ActionFailed(f"{path}: {err}") from None
    data = text.encode(ctx.args.get("output_encoding") or "utf-8")
    mode = ctx.args.get("mode")
    src_mode = stat.S_IMODE(path.stat().st_mode) if mode == "preserve" else None
    return [("copy", content_args(data, ctx.args, None, src_mode))]

