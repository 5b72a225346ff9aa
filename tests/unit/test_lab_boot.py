"""How a host is isolated: the boot command line and the PID 1 script."""

from __future__ import annotations

from pathlib import Path

from pyengine.lab.boot import BOOT_SCRIPT, boot_command


def _argv() -> list[str]:
    p = Path("/s")
    return boot_command(p / "cgroup.procs", "/proc/1/task/2/ns/net", p / "boot.sh", p / "img",
                        p / "up", p / "work", p / "root", "h1", 1000.0)


def test_host_gets_its_own_namespaces_and_the_lab_network() -> None:
    argv = _argv()
    unshare = argv[argv.index("unshare"):]
    for flag in ("--pid", "--fork", "--mount", "--uts", "--ipc", "--cgroup", "--time"):
        assert flag in unshare
    assert "--net=/proc/1/task/2/ns/net" in argv


def test_capabilities_are_dropped_before_the_host_script_runs() -> None:
    argv = _argv()
    setpriv = argv.index("setpriv")
    # After unshare (setting the time offsets needs CAP_SYS_TIME), before PID 1's script.
    assert argv.index("unshare") < setpriv < argv.index(str(Path("/s/boot.sh")))
    assert "-sys_time" in argv[setpriv + 2].split(",")


def test_clocks_start_near_zero_inside() -> None:
    argv = _argv()
    assert "--boottime=-999" in argv and "--monotonic=-999" in argv


def test_boot_script_keeps_kernel_settings_read_only_and_dev_private() -> None:
    assert 'mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/sys"' in BOOT_SCRIPT
    assert "-t sysfs -o ro" in BOOT_SCRIPT
    assert "newinstance" in BOOT_SCRIPT  # private devpts
    assert "--bind /dev" not in BOOT_SCRIPT and "rbind" not in BOOT_SCRIPT
    assert "pivot_root" in BOOT_SCRIPT
