"""Without root or without debootstrap the lab says in one line what is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pyengine.commands.main import main
from pyengine.errors import LabError
from pyengine.lab import Lab, default_inventory_path
from pyengine.lab import image as image_mod
from pyengine.lab import lab as lab_mod


def test_up_without_root_says_to_use_sudo(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setattr(lab_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        Lab("unit", 250, state_root=tmp_path).up(1)
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_up_without_debootstrap_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(lab_mod.os, "geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name: None if name == "debootstrap" else real_which(name) or name)
    monkeypatch.setattr(image_mod, "image_ready", lambda *a: False)
    monkeypatch.setattr(lab_mod, "_require_cgroup", lambda: None)
    with pytest.raises(LabError, match="apt-get install debootstrap"):
        Lab(f"unit-{tmp_path.name[-8:]}".lower().replace("_", "-"), 250,
            state_root=tmp_path).up(1)


def test_cli_prints_one_line_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lab_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "up", "--name", "unit", "--octet", "250", "-n", "1"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_bad_octet_is_refused_before_anything_runs() -> None:
    with pytest.raises(LabError, match="octet"):
        Lab("unit", 0)


def test_inventory_path_command_prints_the_lab_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lab_mod, "STATE_ROOT", tmp_path)
    (tmp_path / "someone").mkdir()
    (tmp_path / "someone" / "inventory.yml").write_text("all: {}\n")
    main(["lab", "inventory-path", "--name", "someone"])
    assert capsys.readouterr().out.strip() == str(tmp_path / "someone" / "inventory.yml")


def test_inventory_path_of_a_lab_that_is_not_up_is_an_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lab_mod, "STATE_ROOT", tmp_path)
    with pytest.raises(SystemExit):
        main(["lab", "inventory-path", "--name", "nobody"])
    captured = capsys.readouterr()
    assert captured.out == "" and "pyengine lab up --name nobody" in captured.err


def test_no_default_inventory_when_the_default_lab_is_not_up(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lab_mod, "STATE_ROOT", tmp_path)
    assert default_inventory_path() is None


def test_default_inventory_when_the_default_lab_daemon_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    from pyengine.lab.procs import write_pid_file

    monkeypatch.setattr(lab_mod, "STATE_ROOT", tmp_path)
    lab_dir = tmp_path / "default"
    lab_dir.mkdir()
    (lab_dir / "inventory.yml").write_text("all: {}\n")
    assert default_inventory_path() is None  # no daemon
    write_pid_file(lab_dir / "daemon.pid", os.getpid())  # a live process stands in for it
    assert default_inventory_path() == lab_dir / "inventory.yml"
    (lab_dir / "daemon.pid").write_text(f"{os.getpid()} 1\n")  # same PID, other start time
    assert default_inventory_path() is None


def test_a_lab_the_inotify_limit_cannot_boot_is_refused_before_it_starts(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`lab up -n 80` on a machine with max_user_instances 128 used to boot 41 hosts and
    leave the rest stuck; now it says the cause and the limit before anything starts."""
    monkeypatch.setattr(lab_mod.os, "geteuid", lambda: 0)
    monkeypatch.setattr(lab_mod, "_require_cgroup", lambda: None)
    monkeypatch.setattr(lab_mod, "_inotify_usage", lambda: (20, 128))
    started: list[str] = []
    monkeypatch.setattr(image_mod, "ensure_image", lambda *a: started.append("image"))
    with pytest.raises(LabError, match=r"80 hosts.*20 of the machine's 128.*room for 50"):
        Lab("unit-big", 251, state_root=tmp_path).up(80)
    assert started == []


def test_inotify_usage_reads_this_machine() -> None:
    usage = lab_mod._inotify_usage()
    assert usage is not None
    used, limit = usage
    assert 0 <= used and limit > 0
