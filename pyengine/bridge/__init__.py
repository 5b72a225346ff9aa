"""The Ansible module bridge: run modules pyengine has no native version of.

A task naming a module that is not in `modules/` (nor a controller action) but is
installed on the controller with ansible-core or a collection is found by modspec
(`kind == "ansible"`, options from `content/ansible_modules.py`); `pack.py` packs it with
the module_utils it imports; the agent runs it in a forked child
(`pyengine/agent/ansible_run.py`) under Ansible's module contract, in the same batch as
native tasks. `module_code` is what the executor's module resolver hands the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pyengine import modspec
from pyengine.agent.bundle import ModuleCode, native_code, native_utils_dirs
from pyengine.bridge.pack import pack_module
from pyengine.content.collections import AnsibleModule
from pyengine.errors import PyengineError


def module_code(name: str, project_dirs: Sequence[Path] = ()) -> ModuleCode:
    """What the agent needs to run module `name`: a native module with its helpers, or an
    installed Ansible module packed with its module_utils."""
    spec = modspec.find_module(name, project_dirs)
    if spec is None or spec.path is None or spec.kind not in ("module", modspec.ANSIBLE):
        raise PyengineError(f"no target module named {name!r}")
    if spec.kind == modspec.ANSIBLE:
        fqcn = spec.name
        module = AnsibleModule(fqcn, spec.path, spec.collection)
        return pack_module(module, Path(project_dirs[0]) if project_dirs else None)
    source = spec.path.read_text(encoding="utf-8")
    return native_code(source, spec.name, native_utils_dirs(project_dirs))
