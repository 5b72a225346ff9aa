"""`--release`: parsing, host assignment, the saved config, per-release images and groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.lab import lab as lab_cli
from pyengine.errors import LabError
from pyengine.lab import image as image_mod
from pyengine.lab import lab as lab_mod
from pyengine.lab.config import LabConfig
from pyengine.lab.inventory import inventory_data
from pyengine.lab.releases import (
    assign_releases,
    canonical_release,
    parse_release_spec,
    release_group,
)


@pytest.mark.parametrize("word,name", [("trixie", "trixie"), ("13", "trixie"),
                                       ("debian11", "bullseye"), (" Debian12 ", "bookworm"),
                                       ("BOOKWORM", "bookworm")])
def test_a_release_is_named_by_codename_number_or_debian_number(word: str, name: str) -> None:
    assert canonical_release(word) == name


@pytest.mark.parametrize("text", ["buster", "14", "debian", "sid"])
def test_an_unknown_release_names_the_known_ones(text: str) -> None:
    with pytest.raises(LabError, match=r"unknown Debian release .*bullseye \(11\), bookworm "
                                       r"\(12\), trixie \(13\)"):
        parse_release_spec(text)


def test_a_list_assigns_releases_round_robin() -> None:
    spec = parse_release_spec("bullseye,bookworm,trixie")
    assert spec.total is None
    assert assign_releases(spec, 5) == ("bullseye", "bookworm", "trixie", "bullseye", "bookworm")
    assert assign_releases(parse_release_spec("11"), 2) == ("bullseye", "bullseye")


def test_counts_give_consecutive_blocks_and_the_host_count() -> None:
    spec = parse_release_spec("bookworm=2, trixie=1")
    assert spec.total == 3
    assert assign_releases(spec, 3) == ("bookworm", "bookworm", "trixie")
    with pytest.raises(LabError, match="asks for 3 hosts but -n is 4"):
        assign_releases(spec, 4)


@pytest.mark.parametrize("text,why", [
    ("bookworm=2,trixie", "give every release a count"),
    ("bookworm=x", "'x' is not a host count"),
    ("bookworm=0", "needs at least 1 host"),
    ("trixie=1,13=2", "trixie is given twice"),
    ("bookworm,,trixie", "empty release name"),
    ("", "empty release name"),
])
def test_bad_release_arguments_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(LabError, match=why):
        parse_release_spec(text)


def test_config_records_each_hosts_release_and_image() -> None:
    config = LabConfig("t", 9, 3, 0, "/img/12", ("bullseye", "bookworm", "trixie"),
                       {"bullseye": "/img/11", "bookworm": "/img/12", "trixie": "/img/13"})
    again = LabConfig.from_json(config.to_json())
    assert again == config
    assert [again.release_of(h) for h in again.host_names()] == ["bullseye", "bookworm", "trixie"]
    assert again.image_of("h3") == "/img/13"


def test_a_lab_json_from_before_releases_means_bookworm_everywhere() -> None:
    old = LabConfig.from_json(json.dumps({"name": "t", "octet": 9, "count": 2, "image": "/i"}))
    assert [old.release_of(h) for h in old.host_names()] == ["bookworm", "bookworm"]
    assert old.image_of("h2") == "/i"


def test_inventory_groups_hosts_by_release_besides_group_lab() -> None:
    config = LabConfig("t", 9, 4, releases=("bullseye", "trixie", "bullseye", "trixie"))
    children = inventory_data(config, Path("/k"), Path("/kh"))["all"]["children"]
    assert list(children) == ["lab", "release_debian11", "release_debian13"]
    assert list(children["lab"]["hosts"]) == ["h1", "h2", "h3", "h4"]
    assert list(children["release_debian11"]["hosts"]) == ["h1", "h3"]
    assert list(children["release_debian13"]["hosts"]) == ["h2", "h4"]
    assert release_group("bookworm") == "release_debian12"
    assert sorted(["lab", release_group("bullseye")])[0] == "lab"  # backup folder, client
    plain = inventory_data(LabConfig("t", 9, 2), Path("/k"), Path("/kh"))["all"]["children"]
    assert list(plain["release_debian12"]["hosts"]) == ["h1", "h2"]


def test_default_image_keeps_its_cache_key() -> None:
    """The bookworm image's directory is the one it had before releases existed, so CI's
    cache and running labs stay valid; other releases get their own directories."""
    m = image_mod
    old_sources = ("deb http://deb.debian.org/debian bookworm main\n"
                   "deb http://deb.debian.org/debian bookworm-updates main\n"
                   "deb http://deb.debian.org/debian-security bookworm-security main\n")
    old_key = m._digest("bookworm", m.MIRROR, m.PACKAGES, m.CUSTOMISE_VERSION, m.SSHD_CONF,
                        m.SUDOERS, m.APT_PROXY_CONF, old_sources, *m.MASKED_UNITS)
    assert image_mod.image_dir().name == f"bookworm-{old_key}"
    assert image_mod.image_dir("bookworm") == image_mod.image_dir()
    names = {image_mod.image_dir(r).name.split("-")[0] for r in ("bullseye", "trixie")}
    assert names == {"bullseye", "trixie"}
    assert image_mod.debootstrap_dir("trixie") != image_mod.debootstrap_dir("bullseye")


def test_each_release_points_apt_at_its_own_suites() -> None:
    text = image_mod.sources_list("bullseye")
    assert "deb http://deb.debian.org/debian bullseye main" in text
    assert "bullseye-updates main" in text
    assert "debian-security bullseye-security main" in text
    assert "bookworm" not in text
    assert image_mod.sources_list() == image_mod.SOURCES_LIST
    with pytest.raises(LabError, match="no lab image for Debian release 'sid'"):
        image_mod.image_dir("sid")


def test_building_one_release_does_not_remove_another_releases_image(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    for name in ("trixie-new", "trixie-old", "bullseye-unused", "bookworm-unused"):
        (rootfs / name).mkdir(parents=True)
    monkeypatch.setattr(image_mod, "STATE_ROOT", tmp_path / "labs")
    image_mod._remove_unused_images(rootfs / "trixie-new", lambda _m: None)
    assert sorted(p.name for p in rootfs.iterdir()) == [
        "bookworm-unused", "bullseye-unused", "trixie-new"]


def test_an_image_a_mixed_lab_boots_is_kept(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    for name in ("trixie-new", "trixie-used"):
        (rootfs / name).mkdir(parents=True)
    state = tmp_path / "labs"
    (state / "mixed").mkdir(parents=True)
    (state / "mixed" / "lab.json").write_text(json.dumps(
        {"image": str(rootfs / "bookworm-x"), "images": {"trixie": str(rootfs / "trixie-used")}}))
    monkeypatch.setattr(image_mod, "STATE_ROOT", state)
    image_mod._remove_unused_images(rootfs / "trixie-new", lambda _m: None)
    assert sorted(p.name for p in rootfs.iterdir()) == ["trixie-new", "trixie-used"]


def test_lab_up_builds_one_image_per_release_it_needs(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """Everything before the daemon starts, with the image builds and host files faked."""
    monkeypatch.setattr(lab_mod.os, "geteuid", lambda: 0)
    monkeypatch.setattr(lab_mod, "_require_cgroup", lambda: None)
    monkeypatch.setattr(lab_mod, "_inotify_usage", lambda: None)
    built: list[str] = []

    def fake_image(_log: object, release: str) -> Path:
        built.append(release)
        return tmp_path / f"img-{release}"

    class Stop(Exception):
        pass

    saved: list[LabConfig] = []

    def fake_state(_self: object, config: LabConfig, _say: object) -> None:
        saved.append(config)
        raise Stop

    monkeypatch.setattr(image_mod, "image_ready", lambda *a: True)
    monkeypatch.setattr(image_mod, "ensure_image", fake_image)
    monkeypatch.setattr(lab_mod.Lab, "_create_state", fake_state)
    with pytest.raises(Stop):
        lab_mod.Lab("unit-rel", 252, state_root=tmp_path).up(
            4, releases=("trixie", "bullseye", "trixie", "bullseye"))
    assert built == ["bullseye", "trixie"]
    assert saved[0].releases == ("trixie", "bullseye", "trixie", "bullseye")
    assert saved[0].image_of("h1") == str(tmp_path / "img-trixie")
    with pytest.raises(LabError, match="2 releases given for 3 hosts"):
        lab_mod.Lab("unit-rel", 252, state_root=tmp_path).up(3, releases=("trixie", "trixie"))


@pytest.mark.parametrize("argv,message", [
    (["--release", "buster"], "unknown Debian release 'buster'"),
    (["--release", "bookworm=2", "-n", "3"], "asks for 2 hosts but -n is 3"),
])
def test_cli_release_errors_are_one_line(argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from pyengine.commands.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "up", "--name", "unit", "--octet", "250", *argv])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_lab_up_help_explains_release_mixes() -> None:
    text = CliRunner().invoke(lab_cli, ["up", "--help"]).output
    flat = " ".join(text.split())
    assert "--release" in flat and "round-robin" in flat and "bookworm=2,trixie=1" in flat
