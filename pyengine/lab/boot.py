"""How one host boots: the command line that isolates it and the script that runs as its PID 1.

The supervisor (daemon.py) runs `boot_command()`: the process first moves itself into
the host's own cgroup, joins the host's long-lived network namespace, then unshares
mount, UTS, PID, IPC, cgroup and time namespaces and drops the capabilities that act on
the whole machine. Inside, BOOT_SCRIPT (machine binaries, before the pivot) mounts the
overlay root, a read-only /proc/sys and /sys, a minimal private /dev, pivots into the
overlay and execs the host's init as PID 1: systemd for a full host, or for a light
host (`lab up --light`, for scale) a shell that starts sshd and reaps orphans, so the host
holds no inotify instance and costs two small processes. Every mount lives in the host's
mount namespace and disappears with it: the machine's mount table never changes.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from pyengine.lab.config import cap_drop_arg

BOOT_SCRIPT = r"""#!/bin/sh
# pyengine lab host boot (PID 1 of a fresh PID namespace).
# Args: LOWER UPPER WORK ROOT HOST [KIND: systemd (default) or light]
set -eu
LOWER=$1 UPPER=$2 WORK=$3 R=$4 HOST=$5 KIND=${6:-systemd}
DEV=${0%/*}/dev  # the template write_dev_template() made beside this script
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# kernel.* and fs.* are not namespaced: nothing inside may write /proc/sys.
# net.* belongs to the host's own network namespace: it stays writable, as on a server
# (bound before /proc/sys turns read-only, so it keeps its own read-write flag).
mount --bind "$R/proc/sys" "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then
    mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
    mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup-root "$R/sys/fs/cgroup"
mkdir "$R/sys/fs/cgroup/systemd"
mount -t cgroup -o none,name=systemd,nosuid,nodev,noexec cgroup "$R/sys/fs/cgroup/systemd"
mount -o remount,ro,nosuid,nodev,noexec "$R/sys/fs/cgroup"
# A private /dev: a few character devices, its own devpts and shm; never the machine's.
# The nodes and links come from the lab's template (DEV_NODES), copied in one go.
mount -t tmpfs -o mode=755,nosuid,noexec dev "$R/dev"
cp -a "$DEV/." "$R/dev/"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev run "$R/run"
# A boot id of this boot (the kernel's is the machine's): reboot detection compares it.
mkdir -m 755 "$R/run/pyengine-lab"
read -r BOOT_ID < /proc/sys/kernel/random/uuid
echo "$BOOT_ID" > "$R/run/pyengine-lab/boot_id"
mount --bind "$R/run/pyengine-lab/boot_id" "$R/proc/sys/kernel/random/boot_id"
mount -o remount,bind,ro "$R/proc/sys/kernel/random/boot_id"
hostname "$HOST"
cd "$R"
mkdir -p .pyengine-oldroot
pivot_root . .pyengine-oldroot
if [ "$KIND" = light ]; then
    # No systemd: PID 1 stays a shell that runs sshd (foreground, log on the console) and,
    # while it waits, reaps every orphan the kernel hands to it. When sshd ends, the shell
    # ends and so does the host; the lab daemon boots it again.
    exec /usr/bin/env -i container=pyengine-lab TERM=linux \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c \
        'umount -l /.pyengine-oldroot && rmdir /.pyengine-oldroot && mkdir -m 755 /run/sshd &&
         { /usr/sbin/sshd -D -e </dev/null & } && wait'
fi
exec /usr/bin/env -i container=pyengine-lab TERM=linux /bin/sh -c \
    'umount -l /.pyengine-oldroot && rmdir /.pyengine-oldroot && exec /lib/systemd/systemd --system'
"""


# The private /dev of every host: (name, kind, mode, major, minor or link target). Made
# once per lab beside the boot script and copied at each boot (one `cp` instead of a
# dozen mknod/mkdir/ln runs: a 250-host lab boots measurably faster).
DEV_NODES: tuple[tuple[str, str, int, int, int | str], ...] = (
    ("null", "c", 0o666, 1, 3),
    ("zero", "c", 0o666, 1, 5),
    ("full", "c", 0o666, 1, 7),
    ("random", "c", 0o666, 1, 8),
    ("urandom", "c", 0o666, 1, 9),
    ("tty", "c", 0o666, 5, 0),
    ("pts", "d", 0o755, 0, 0),
    ("shm", "d", 0o1777, 0, 0),
    ("ptmx", "l", 0o777, 0, "pts/ptmx"),
    ("fd", "l", 0o777, 0, "/proc/self/fd"),
    ("stdin", "l", 0o777, 0, "/proc/self/fd/0"),
    ("stdout", "l", 0o777, 0, "/proc/self/fd/1"),
    ("stderr", "l", 0o777, 0, "/proc/self/fd/2"),
)


def write_dev_template(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(mode=0o755)
    for name, kind, mode, major, minor in DEV_NODES:
        path = directory / name
        if kind == "c":
            assert isinstance(minor, int)
            os.mknod(path, stat.S_IFCHR | mode, os.makedev(major, minor))
        elif kind == "d":
            path.mkdir()
        else:
            path.symlink_to(str(minor))
        if kind != "l":
            os.chmod(path, mode)  # not subject to the umask


def write_boot_script(path: Path) -> None:
    """The boot script and, beside it, the /dev template it copies (`dev/`)."""
    path.write_text(BOOT_SCRIPT)
    path.chmod(0o755)
    write_dev_template(path.parent / "dev")


def boot_command(
    cgroup_procs: Path,
    netns: str,
    script: Path,
    lower: Path,
    upper: Path,
    work: Path,
    root: Path,
    host: str,
    machine_uptime: float,
    kind: str = "systemd",
) -> list[str]:
    """argv for one boot. The first `sh` joins the cgroup by PID before anything else runs;
    every later program execs in place, so that PID is the one `unshare` keeps. A time
    namespace whose clocks start near zero makes `uptime` inside count from this boot."""
    offset = str(-max(0, int(machine_uptime) - 1))
    return [
        "/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup_procs),
        "nsenter", f"--net={netns}", "--",
        "unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts", "--ipc", "--cgroup",
        "--time", f"--boottime={offset}", f"--monotonic={offset}", "--",
        # Setting the time namespace's offsets needs CAP_SYS_TIME: drop it only afterwards,
        # in the host's PID 1 (the unshare parent stays outside, in the machine's PID space).
        "setpriv", "--bounding-set", cap_drop_arg(), "--",
        "/bin/sh", str(script), str(lower), str(upper), str(work), str(root), host, kind,
    ]
