"""`package` hands every argument but `use` to the backend module, as Ansible's action does."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pyengine.actions import package
from pyengine.actions.base import ActionFailed
from pyengine.errors import PlaybookErrors
from pyengine.modspec import find_module, normalize_args, validate_args


def ctx(args: dict[str, Any], **facts: Any) -> Any:
    return SimpleNamespace(args=args, variables=facts, basedir=Path("/nonexistent"))


def test_extra_arguments_reach_the_dnf_backend() -> None:
    args = {"name": ["httpd"], "state": "present", "use": "auto", "enablerepo": ["epel"],
            "disable_plugin": ["subscription-manager"]}
    [(module, out)] = package.transform(ctx(args, ansible_pkg_mgr="dnf"))
    assert module == "dnf"
    assert out == {"name": ["httpd"], "state": "present", "enablerepo": ["epel"],
                   "disable_plugin": ["subscription-manager"]}
    normalised = normalize_args(module, out)  # the backend accepts them
    assert normalised["enablerepo"] == ["epel"]


def test_apt_gets_its_options_and_plain_states() -> None:
    args = {"name": ["nginx"], "state": "installed", "use": "auto",
            "install_recommends": False, "update_cache": True}
    [(module, out)] = package.transform(ctx(args, ansible_pkg_mgr="apt"))
    assert module == "apt" and out["state"] == "present"
    assert normalize_args(module, out)["install_recommends"] is False


def test_use_overrides_the_fact_and_dnf5_is_dnf() -> None:
    assert package.transform(ctx({"name": ["x"], "use": "yum"}, ansible_pkg_mgr="apt"))[0][0] \
        == "yum"
    assert package.backend_for("auto", {"ansible_pkg_mgr": "dnf5"}) == "dnf"


def test_unknown_manager_fails_like_ansible() -> None:
    with pytest.raises(ActionFailed, match="Could not detect which package manager"):
        package.transform(ctx({"name": ["x"], "use": "auto"}, ansible_pkg_mgr="unknown"))
    with pytest.raises(ActionFailed, match="no module for the package manager 'zypperx'"):
        package.transform(ctx({"name": ["x"], "use": "zypperx"}))


def test_load_time_accepts_backend_arguments_and_the_backend_refuses_wrong_ones() -> None:
    spec = find_module("ansible.builtin.package")
    assert spec is not None and spec.kind == "action"
    _, errors = validate_args(spec, {"name": "a,b", "enablerepo": "epel"})
    assert errors == []
    with pytest.raises(PlaybookErrors, match="unsupported argument 'enablerepoo' for module "
                                             "'dnf'"):
        normalize_args("dnf", {"name": ["a"], "enablerepoo": "epel"})
