"""Commit the run's backups: one commit naming the hosts that changed, none if none did.

Use it once per run after the `backup` tasks (`run_once: true`), so every host's
snapshot is in the working tree before the commit is made.
"""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext
from pyengine.paths import expand_user

ARGS = {
    "repo": {"type": "str", "default": "config-backup", "help": "The backup repository."},
    "push": {"type": "bool", "default": False,
             "help": "Push to `remote` after committing (a remote you configured)."},
    "remote": {"type": "str", "default": "origin", "help": "Remote to push to."},
    "label": {"type": "str", "default": "", "help": "Added to the commit subject."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed
    from pyengine.backup.snapshot import repo_lock
    from pyengine.backup.store import BackupError, BackupStore

    repo = expand_user(str(ctx.args["repo"]))
    if ctx.check_mode:
        return {"changed": False, "msg": "check mode: nothing committed"}
    try:
        with repo_lock(repo):
            store = BackupStore(repo)
            info = store.commit(run_label=str(ctx.args.get("label") or ""))
            if info and ctx.args.get("push"):
                store.push(str(ctx.args["remote"]))
    except BackupError as err:
        raise ActionFailed(str(err)) from None
    if info is None:
        return {"changed": False, "msg": "no host changed: no commit", "commit": None}
    return {"changed": True, "commit": info.rev, "hosts": info.hosts,
            "msg": f"{info.rev[:10]} {info.subject}"}
