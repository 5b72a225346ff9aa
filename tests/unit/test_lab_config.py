"""The pure part of the lab: names, addresses, validation, saved config, paths."""

from __future__ import annotations

import pytest

from pyengine.errors import LabError
from pyengine.lab.config import (
    DROPPED_CAPS,
    LabConfig,
    LabPaths,
    cap_drop_arg,
    host_address,
    host_name,
    validate_count,
    validate_delay,
    validate_name,
    validate_octet,
)


def test_host_n_of_a_lab_is_at_127_0_octet_n() -> None:
    assert [host_address(9, i) for i in (1, 2, 10)] == ["127.0.9.1", "127.0.9.2", "127.0.9.10"]
    assert [host_name(i) for i in (1, 10)] == ["h1", "h10"]


@pytest.mark.parametrize("octet", [0, 255, -1])
def test_octet_outside_1_to_254_is_refused(octet: int) -> None:
    with pytest.raises(LabError, match="octet"):
        validate_octet(octet)


def test_octet_inside_range_is_accepted() -> None:
    assert validate_octet(1) == 1 and validate_octet(254) == 254


@pytest.mark.parametrize("name", ["", "Default", "../x", "a b", "x" * 33, "-lead"])
def test_unsafe_lab_names_are_refused(name: str) -> None:
    with pytest.raises(LabError, match="lab name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["default", "test", "t-agent_2", "9"])
def test_plain_lab_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name


def test_count_and_delay_bounds() -> None:
    assert validate_count(1) == 1
    with pytest.raises(LabError):
        validate_count(0)
    with pytest.raises(LabError):
        validate_count(255)
    assert validate_delay(0) == 0
    with pytest.raises(LabError):
        validate_delay(-5)


def test_config_survives_a_json_round_trip() -> None:
    config = LabConfig("x", 7, 3, 25, "/img")
    again = LabConfig.from_json(config.to_json())
    assert again == config
    assert again.host_names() == ["h1", "h2", "h3"]


def test_cap_drop_arg_drops_clock_modules_and_raw_io() -> None:
    arg = cap_drop_arg()
    for cap in ("sys_time", "sys_module", "sys_rawio"):
        assert f"-{cap}" in arg.split(",")
    assert len(arg.split(",")) == len(DROPPED_CAPS)
    # CAP_SYS_BOOT is what lets systemd reboot its own PID namespace: it must stay.
    assert "-sys_boot" not in arg


def test_paths_live_in_the_lab_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = LabPaths("x", tmp_path)
    assert paths.dir == tmp_path / "x"
    assert paths.host_upper("h2") == tmp_path / "x" / "hosts" / "h2" / "upper"
    assert paths.inventory.parent == paths.dir
    assert paths.cgroup("h1").parts[-2:] == ("x", "h1")
