"""Back up a host's configuration into the git store (files land in the working tree).

Runs `backup_collect` on the host, then writes `backups/<group>/<host>/` in the
repository and reports what drifted since the previous backup. Values known to be
secret (vaulted, no_log) are masked in the files before they are written. Committing is the
`backup_commit` action's job, once per run, so a run is one commit. A host that
cannot be reached never gets here, so its last backup stays as it was.
"""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext
from pyengine.paths import expand_user

ARGS = {
    "repo": {"type": "str", "default": "config-backup",
             "help": "Git repository of the backups (created when missing; relative to the "
                     "current folder)."},
    "group": {"type": "str", "help": "Folder under backups/ (default: the host's first group)."},
    "default_set": {"type": "bool", "default": True,
                    "help": "Collect the OS family's default configuration set."},
    "paths": {"type": "list", "elements": "str", "default": [],
              "help": "Extra files or globs on the host."},
    "commands": {"type": "dict", "default": {},
                 "help": "Extra command outputs: name -> argv list."},
    "max_file_size": {"type": "int", "default": 1048576, "help": "Skip larger files (bytes)."},
    "max_files": {"type": "int", "default": 2000, "help": "Collect at most this many files."},
    "extra_deny": {"type": "list", "elements": "str", "default": [],
                   "help": "More globs never to collect (adds to the secrets denylist)."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed
    from pyengine.backup.snapshot import (
        changed_paths,
        current_snapshot,
        drift_diffs,
        repo_lock,
        snapshot_from_result,
        validate_paths,
    )
    from pyengine.backup.store import BackupError, BackupStore
    from pyengine.masking import mask, unopened_secret_sources

    args = ctx.args
    unopened = unopened_secret_sources()
    if unopened:
        more = f" and {len(unopened) - 1} more" if len(unopened) > 1 else ""
        raise ActionFailed(
            f"vault file {unopened[0]}{more} could not be opened in this run, so the secrets "
            "rendered from it into the hosts' files cannot be masked: give the vault password "
            "(--vault-password-file, --vault-id or PYENGINE_VAULT_PASSWORD) to back up")
    collected = ctx.host_ops.run_module("backup_collect", {
        key: args[key] for key in ("default_set", "paths", "commands", "max_file_size",
                                   "max_files", "extra_deny")})
    if collected.get("failed"):
        raise ActionFailed(collected.get("msg") or "collecting the configuration failed")
    # A secret must never enter the backup repository (it is shared and often pushed):
    # whatever the run knows as secret is masked in the files before they are written.
    files = {path: mask(content) for path, content in snapshot_from_result(collected).items()}
    groups = [g for g in ctx.variables.get("group_names") or [] if g not in ("all", "ungrouped")]
    group = args.get("group") or (groups[0] if groups else "ungrouped")
    repo = expand_user(str(args["repo"]))
    try:
        validate_paths(files)
        with repo_lock(repo):
            store = BackupStore(repo)
            previous = current_snapshot(store, ctx.host)
            drift = changed_paths(previous, files)
            diffs = drift_diffs(previous, files)
            if not ctx.check_mode:
                store.write_host(group, ctx.host, files)
    except BackupError as err:
        raise ActionFailed(str(err)) from None
    refused = collected.get("refused") or []
    first = previous is None
    changed = first or bool(drift)
    if first:
        msg = f"first backup: {len(files)} files"
    elif drift:
        msg = f"{len(drift)} change(s): " + ", ".join(drift[:5]) + (" …" if len(drift) > 5 else "")
    else:
        msg = f"no drift ({len(files)} files)"
    result: dict[str, Any] = {
        "changed": changed, "msg": msg, "drift": drift, "drift_diffs": diffs, "group": group,
        "files": len(files),
        "repo": str(repo), "refused": refused, "skipped_files": collected.get("skipped") or [],
    }
    if refused:
        result["warnings"] = [f"refused {r['path']}: {r['reason']}" for r in refused]
    return result
