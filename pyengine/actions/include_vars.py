"""Load variables from a YAML file on the controller into the host's variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "file": {"type": "str", "aliases": ["_raw_params"],
             "help": "The YAML file (relative to the role's vars/, the playbook's vars/ or "
                     "the playbook folder)."},
    "dir": {"type": "str", "help": "Load every .yml/.yaml/.json file of this folder, sorted."},
    "name": {"type": "str", "help": "Put the variables under this one name."},
}
REQUIRED_ONE_OF = [["file", "dir"]]
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed
    from pyengine.errors import PyengineError
    from pyengine.yamlload import load_yaml

    files: list[Path] = []
    if ctx.args.get("file"):
        found = ctx.find_file("vars", str(ctx.args["file"]))
        if found is None:
            raise ActionFailed(f"vars file not found: {ctx.args['file']}")
        files.append(found)
    if ctx.args.get("dir"):
        folder = ctx.find_file("vars", str(ctx.args["dir"]))
        if folder is None or not folder.is_dir():
            raise ActionFailed(f"vars folder not found: {ctx.args['dir']}")
        files += sorted(p for p in folder.iterdir()
                        if p.suffix in (".yml", ".yaml", ".json") and p.is_file())
    loaded: dict[str, Any] = {}
    for path in files:
        try:
            data = load_yaml(path)
        except PyengineError as err:
            raise ActionFailed(str(err)) from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ActionFailed(f"{path}: a vars file must hold a mapping")
        loaded.update(data)
    facts = {str(ctx.args["name"]): loaded} if ctx.args.get("name") else loaded
    return {"changed": False, "ansible_facts": facts,
            "ansible_included_var_files": [str(p) for p in files]}
