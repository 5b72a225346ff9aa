"""Image cache housekeeping: unused old images go, images a lab boots from stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyengine.lab import image as image_mod


def test_unused_images_are_removed_and_used_ones_kept(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    current, used, unused, building = (rootfs / n for n in ("bookworm-new", "bookworm-used",
                                                            "bookworm-old", ".x.tmp"))
    for d in (current, used, unused, building):
        d.mkdir(parents=True)
    state = tmp_path / "labs"
    (state / "somelab").mkdir(parents=True)
    (state / "somelab" / "lab.json").write_text(json.dumps({"image": str(used)}))
    monkeypatch.setattr(image_mod, "STATE_ROOT", state)
    image_mod._remove_unused_images(current, lambda _m: None)
    assert sorted(p.name for p in rootfs.iterdir()) == [".x.tmp", "bookworm-new",
                                                        "bookworm-used"]


def test_nothing_is_removed_when_a_lab_config_cannot_be_read(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "new").mkdir(parents=True)
    (rootfs / "old").mkdir()
    state = tmp_path / "labs"
    (state / "broken").mkdir(parents=True)
    (state / "broken" / "lab.json").write_text("{not json")
    monkeypatch.setattr(image_mod, "STATE_ROOT", state)
    image_mod._remove_unused_images(rootfs / "new", lambda _m: None)
    assert sorted(p.name for p in rootfs.iterdir()) == ["new", "old"]


def test_image_location_changes_with_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    before, raw_before = image_mod.image_dir(), image_mod.debootstrap_dir()
    monkeypatch.setattr(image_mod, "SSHD_CONF", image_mod.SSHD_CONF + "X11Forwarding no\n")
    assert image_mod.image_dir() != before
    assert image_mod.debootstrap_dir() == raw_before  # the slow stage is reused
