"""Filters, tests and lookups from installed Ansible collections, loaded at run time.

`{{ x | community.general.dict_kv('k') }}` names a plugin by its collection. pyengine
has its own builtins; a collection's plugins are the user's installed code, so they
are imported from where Ansible would find them (the folders of
`pyengine.content.collections.collection_roots`) through ansible-core's own plugin
loader, which a collection plugin needs anyway (it imports `ansible.*`). Nothing of it is
copied; without ansible-core the error says what to install.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyengine.errors import TemplateError

# The playbook folder of the template being compiled: its collections/ folder is searched.
CURRENT_PLAYBOOK_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "pyengine_playbook_dir", default=None)

_LOCK = threading.Lock()
# ansible-core's plugin loader imports on first use and is not thread-safe: two hosts'
# threads loading one plugin at once can see a half-imported module.
_GET_LOCK = threading.Lock()
_READY: list[Path] = []


class PluginMissing(LookupError):
    """No collection provides the plugin (the caller decides how to report it)."""


def is_collection_name(name: str) -> bool:
    """'community.general.dict_kv' (namespace.collection.plugin), not ansible.builtin."""
    parts = name.split(".")
    return len(parts) >= 3 and all(parts) and not name.startswith(("ansible.builtin.",
                                                                    "ansible.legacy."))


def _ensure_loader() -> None:
    """Point ansible-core's plugin loader at the collection roots, once per process."""
    with _LOCK:
        if _READY:
            return
        try:
            from ansible.plugins.loader import init_plugin_loader
        except ImportError:
            raise TemplateError(
                "collection filters, tests and lookups need ansible-core on the controller: "
                "pip install 'pyengine[ansible]' (or pip install ansible)") from None
        from pyengine.content.collections import collection_roots

        roots = collection_roots(CURRENT_PLAYBOOK_DIR.get())
        # A collection imported before as a plain package lacks the metadata ansible-core's
        # loader needs; let its finder import them again.
        for name in [m for m in sys.modules if m == "ansible_collections"
                     or m.startswith("ansible_collections.")]:
            del sys.modules[name]
        init_plugin_loader([str(r) for r in roots])
        _READY.extend(roots)


def _collection_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


def _check_installed(name: str) -> None:
    from pyengine.content.collections import find_collection

    if find_collection(_collection_of(name), CURRENT_PLAYBOOK_DIR.get()) is None:
        raise PluginMissing(f"collection '{_collection_of(name)}' is not installed "
                            f"(ansible-galaxy collection install {_collection_of(name)})")


def jinja_plugin(kind: str, name: str) -> Callable[..., Any]:
    """The function of filter/test `name` from an installed collection."""
    _check_installed(name)
    _ensure_loader()
    from ansible.plugins.loader import filter_loader, test_loader

    loader = filter_loader if kind == "filter" else test_loader
    try:
        with _GET_LOCK:
            plugin = loader.get(name)
    except Exception as err:  # noqa: BLE001 - a broken plugin is the user's, say which
        raise PluginMissing(f"{kind} '{name}' could not be loaded: {err}") from None
    function = getattr(plugin, "j2_function", None) if plugin is not None else None
    if function is None:
        raise PluginMissing(f"no {kind} named '{name}' in collection '{_collection_of(name)}'")
    return function  # type: ignore[no-any-return]


def run_lookup(name: str, terms: list[Any], variables: dict[str, Any], basedir: Path,
               kwargs: dict[str, Any]) -> list[Any]:
    """Run lookup `name` of an installed collection; its result as a list."""
    try:
        _check_installed(name)
    except PluginMissing as err:
        raise TemplateError(f"unknown lookup '{name}': {err}") from None
    _ensure_loader()
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import lookup_loader
    from ansible.template import Templar as AnsibleTemplar

    loader = DataLoader()
    loader.set_basedir(str(basedir))
    try:
        with _GET_LOCK:
            plugin = lookup_loader.get(name, loader=loader, templar=AnsibleTemplar(
                loader=loader, variables=variables))
    except Exception as err:  # noqa: BLE001
        raise TemplateError(f"lookup '{name}' could not be loaded: {err}") from None
    if plugin is None:
        raise TemplateError(f"unknown lookup '{name}': no such lookup in collection "
                            f"'{_collection_of(name)}'")
    try:
        result = plugin.run(terms, variables=variables, **kwargs)
    except Exception as err:  # noqa: BLE001 - the plugin's own error, in one line
        raise TemplateError(f"lookup '{name}': {str(err).splitlines()[0]}") from None
    return list(result) if isinstance(result, (list, tuple)) else [result]


class PluginTable(dict[str, Callable[..., Any]]):
    """The environment's filters (or tests): builtins, then collection plugins on demand.

    jinja2 looks names up at compile time with `.get` and at run time with `[]`; both
    load `namespace.collection.name` from the installed collection the first time.
    """

    def __init__(self, kind: str, builtins: dict[str, Callable[..., Any]]) -> None:
        super().__init__(builtins)
        self.kind = kind

    def _load(self, name: str) -> Callable[..., Any] | None:
        if not isinstance(name, str) or not is_collection_name(name):
            return None
        try:
            function = jinja_plugin(self.kind, name)
        except PluginMissing as err:
            raise TemplateError(f"unknown {self.kind} '{name}': {err}") from None
        self[name] = function
        return function

    def __missing__(self, name: str) -> Callable[..., Any]:
        function = self._load(name)
        if function is None:
            raise KeyError(name)
        return function

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        function = self._load(name)
        return default if function is None else function
