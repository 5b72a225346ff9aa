# ruff: noqa: E501  (recorded command output keeps its real line length)
"""modules/health.py's parsers on recorded outputs, and its thresholds.

Each parser reads text a real host printed (systemctl, chronyc, timedatectl, smartctl,
journalctl, /proc files); certificates are made here with `cryptography` and read back by
the module's own DER reader.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyengine.modspec import find_module, normalize_args
from pyengine.paths import builtin_playbooks_dir

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("health_module", ROOT / "modules" / "health.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _load()
P: dict[str, Any] = normalize_args("health", {})


def _cert(days: float, cn: str = "www.example.test", not_after: datetime.datetime | None = None
          ) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(not_after or now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))


# ------------------------------------------------------------------ filesystems
def test_mounts_decode_octal_escapes_and_the_last_mount_of_a_point_wins() -> None:
    text = ("overlay / overlay rw,relatime 0 0\n"
            "tmpfs /mnt/my\\040disk tmpfs rw,size=4096k 0 0\n"
            "/dev/sda1 /data ext4 rw 0 0\n/dev/sdb1 /data xfs rw 0 0\n")
    assert H.parse_mounts(text) == [("/", "overlay", "overlay"),
                                    ("/mnt/my disk", "tmpfs", "tmpfs"),
                                    ("/data", "xfs", "/dev/sdb1")]


class _St:
    def __init__(self, blocks: int, bfree: int, bavail: int, files: int, ffree: int) -> None:
        self.f_blocks, self.f_bfree, self.f_bavail = blocks, bfree, bavail
        self.f_files, self.f_ffree, self.f_frsize = files, ffree, 4096


def test_usage_counts_as_df_does_reserved_blocks_excluded() -> None:
    # 1000 blocks, 100 free of which 50 reserved for root: df says 900/(900+50) = 94.7%
    assert H.usage(_St(1000, 100, 50, 100, 25)) == (94.7, 75.0)
    assert H.usage(_St(1000, 1000, 1000, 0, 0)) == (0.0, None)  # btrfs: no inode count


def test_filesystem_rows_apply_thresholds_and_skip_pseudo_filesystems() -> None:
    mounts = ("proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\n"
              "tmpfs /mnt/full tmpfs rw 0 0\nnfs:/x /mnt/hung nfs4 rw 0 0\n"
              "/dev/sda1 /srv/bind ext4 rw 0 0\n"
              "overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0\n")
    root = _St(1000, 500, 500, 100, 90)
    stats = {"/": (root, None), "/srv/bind": (root, None),
             "/mnt/full": (_St(1000, 40, 40, 100, 5), None),
             "/mnt/hung": (None, "did not answer within 5s (hung mount?)")}
    rows = H.check_filesystems(P, mounts, True, True, stat=lambda point, _t: stats[point])
    by = {(r["check"], r["item"]): r for r in rows}
    assert ("disk", "/proc") not in by and ("disk", "/srv/bind") not in by  # a bind mount
    assert not [r for r in rows if r["item"].startswith("/var/lib/docker")]
    assert by[("disk", "/")]["state"] == "ok" and by[("disk", "/")]["value"] == 50.0
    assert by[("disk", "/mnt/full")]["state"] == "crit"
    assert by[("disk", "/mnt/full")]["reason"].startswith("/mnt/full 96.0% used")
    assert by[("inodes", "/mnt/full")]["state"] == "crit"
    assert by[("disk", "/mnt/hung")]["state"] == "crit" and "hung" in \
        by[("disk", "/mnt/hung")]["reason"]


# ------------------------------------------------------------------ systemd
FAILED_UNITS = """\
pe-fail.service       loaded failed failed /bin/false
logrotate.service     loaded failed failed Rotate log files
"""


def test_failed_units_are_parsed_from_list_units() -> None:
    assert H.parse_failed_units(FAILED_UNITS) == ["pe-fail.service", "logrotate.service"]
    assert H.parse_failed_units("● x.mount loaded failed failed X\n") == ["x.mount"]
    assert H.parse_failed_units("") == []


def test_is_active_lines_map_to_the_names_in_order() -> None:
    assert H.parse_is_active(["ssh", "nginx", "cron"], "active\ninactive\nfailed\n") == {
        "ssh": "active", "nginx": "inactive", "cron": "failed"}
    assert H.parse_is_active(["a", "b"], "active\n") == {"a": "active", "b": "unknown"}


# ------------------------------------------------------------------ time
CHRONY_SYNCED = """\
Reference ID    : C0A80101 (gw.example.test)
Stratum         : 3
Ref time (UTC)  : Fri Dec 04 20:41:12 2026
System time     : 0.000215841 seconds slow of NTP time
Last offset     : -0.000117293 seconds
RMS offset      : 0.000310442 seconds
Frequency       : 12.114 ppm fast
Leap status     : Normal
"""
CHRONY_UNSYNCED = """\
Reference ID    : 00000000 ()
Stratum         : 0
System time     : 2.500000000 seconds fast of NTP time
Leap status     : Not synchronised
"""
TIMEDATECTL = """\
Timezone=Etc/UTC
LocalRTC=no
CanNTP=yes
NTP=yes
NTPSynchronized=yes
TimeUSec=Fri 2026-12-04 20:59:01 UTC
"""
TIMESYNC_STATUS = """\
       Server: 192.0.2.1 (ntp.example.test)
Poll interval: 34min 8s (min: 32s; max 34min 8s)
         Leap: normal
       Offset: -152.339ms
        Delay: 1.021ms
"""


def test_chrony_tracking_gives_sync_state_and_signed_offset() -> None:
    synced, offset = H.parse_chrony_tracking(CHRONY_SYNCED)
    assert synced and offset == pytest.approx(-0.215841)
    assert H.time_state(P, synced, offset, "chronyc")["state"] == "ok"
    synced, offset = H.parse_chrony_tracking(CHRONY_UNSYNCED)
    assert not synced and offset == pytest.approx(2500.0)
    row = H.time_state(P, synced, offset, "chronyc tracking")
    assert row["state"] == "crit" and "NOT synchronised, offset +2500.0 ms" in row["reason"]


def test_timedatectl_show_and_timesync_offset() -> None:
    info = H.parse_timedatectl(TIMEDATECTL)
    assert info["NTPSynchronized"] == "yes" and info["NTP"] == "yes"
    offset = H.parse_timesync_status(TIMESYNC_STATUS)
    assert offset == pytest.approx(-152.339)
    assert H.time_state(P, True, offset, "timedatectl")["state"] == "warn"
    assert H.parse_timesync_status("       Offset: +870us\n") == pytest.approx(0.87)
    unsynced = H.time_state(P, False, None, "timedatectl")
    assert unsynced["state"] == "warn" and "not synchronised" in unsynced["reason"]
    assert H.time_state({**P, "time_unsynced": "ok"}, False, None, "x")["state"] == "ok"


# ------------------------------------------------------------------ certificates
def test_der_reader_reads_pem_and_der_and_the_earliest_expiry_of_a_chain_counts(
        tmp_path: Path) -> None:
    leaf, ca = _cert(5, "leaf.example.test"), _cert(400, "Example CA")
    pem = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM)
    infos = H.certs_in(pem)
    assert [i["subject"] for i in infos] == ["leaf.example.test", "Example CA"]
    assert infos[0]["not_after"] == leaf.not_valid_after_utc.replace(microsecond=0)
    der = ca.public_bytes(serialization.Encoding.DER)
    assert H.certs_in(der)[0]["subject"] == "Example CA"
    now = datetime.datetime.now(datetime.timezone.utc)
    row = H.cert_row(P, "/etc/ssl/site.pem", pem, now)
    assert row["state"] == "crit" and row["value"] == pytest.approx(5, abs=0.1)
    assert "(leaf.example.test) expires in 4 days" in row["reason"] or \
        "(leaf.example.test) expires in 5 days" in row["reason"]
    assert H.cert_row(P, "ca.der", der, now)["state"] == "ok"


def test_generalized_time_after_2049_and_expired_certificates() -> None:
    far = datetime.datetime(2061, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
    info = H.certs_in(_cert(0, not_after=far).public_bytes(serialization.Encoding.DER))[0]
    assert info["not_after"] == far  # GeneralizedTime, not UTCTime
    now = datetime.datetime.now(datetime.timezone.utc)
    old = _cert(0, not_after=now - datetime.timedelta(days=3))
    row = H.cert_row(P, "old.pem", old.public_bytes(serialization.Encoding.PEM), now)
    assert row["state"] == "crit" and "expired 3 days ago" in row["reason"]


def test_unreadable_certificate_is_warn_not_a_crash() -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    assert H.cert_row(P, "x.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                      b"-----END CERTIFICATE-----\n", now)["state"] == "warn"
    assert H.cert_row(P, "x.txt", b"hello", now)["reason"] == "x.txt: no certificate in the file"


def test_certificates_named_by_nginx_apache_and_postfix_configs(tmp_path: Path) -> None:
    files = {
        "etc/nginx/sites-enabled/shop": "server {\n  ssl_certificate /etc/ssl/shop.pem;\n"
                                        "  ssl_certificate_key /etc/ssl/shop.key;\n}\n",
        "etc/apache2/sites-enabled/app.conf": "<VirtualHost *:443>\n"
                                              "  SSLCertificateFile \"/etc/ssl/app.crt\"\n",
        "etc/postfix/main.cf": "smtpd_tls_cert_file = /etc/ssl/mail.pem\n"
                               "smtp_tls_cert_file = $config_directory/x.pem\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = H.configured_cert_paths(str(tmp_path))
    assert sorted(found) == ["/etc/ssl/app.crt", "/etc/ssl/mail.pem", "/etc/ssl/shop.pem"]
    assert found["/etc/ssl/shop.pem"].endswith("sites-enabled/shop")


def test_cert_paths_expand_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a.pem").write_text("x")
    (tmp_path / "b.crt").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    assert H.expand_cert_paths([str(tmp_path)]) == [str(tmp_path / "a.pem"),
                                                    str(tmp_path / "b.crt")]
    assert H.expand_cert_paths([str(tmp_path / "*.crt")]) == [str(tmp_path / "b.crt")]


# ------------------------------------------------------------------ jobs
def test_log_line_timestamps_iso_with_zone_and_syslog() -> None:
    now = time.time()
    assert H.line_time("2026-12-04T02:00:01+01:00 backup finished OK", now) == \
        datetime.datetime(2026, 12, 4, 1, 0, 1, tzinfo=datetime.timezone.utc).timestamp()
    assert H.line_time("2026-12-04 02:00:01Z done", now) == \
        datetime.datetime(2026, 12, 4, 2, 0, 1, tzinfo=datetime.timezone.utc).timestamp()
    stamp = H.line_time(time.strftime("%b %e %H:%M:%S", time.localtime(now - 3600))
                        + " host backup[12]: finished OK", now)
    assert stamp == pytest.approx(now - 3600, abs=1.5)
    assert H.line_time("no time here", now) is None


def test_newest_matching_line_and_job_ages(tmp_path: Path) -> None:
    now = time.time()
    iso = lambda hours: datetime.datetime.fromtimestamp(  # noqa: E731
        now - hours * 3600, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    log = tmp_path / "backup.log"
    log.write_text(f"{iso(50)} backup finished OK\n{iso(30)} backup finished OK\n"
                   f"{iso(2)} backup FAILED: disk full\n")
    row = H.log_job("backup", str(log), r"finished OK", 26, 50, now)
    assert row["state"] == "warn" and row["value"] == pytest.approx(30, abs=0.01)
    assert "last success 30.0 h ago" in row["reason"]
    assert H.log_job("backup", str(log), "finished OK", 48, 72, now)["state"] == "ok"
    assert H.log_job("backup", str(log), "never", 26, 50, now)["state"] == "crit"
    assert H.log_job("backup", str(tmp_path / "nope"), "x", 26, 50, now)["state"] == "crit"


def test_systemctl_show_blocks_and_timestamps() -> None:
    blocks = H.parse_systemctl_show("LastTriggerUSec=@1764900000\nUnit=backup.service\n"
                                    "LoadState=loaded\n\nResult=exit-code\nExecMainStatus=1\n")
    assert blocks == [{"LastTriggerUSec": "@1764900000", "Unit": "backup.service",
                       "LoadState": "loaded"}, {"Result": "exit-code", "ExecMainStatus": "1"}]
    assert H.show_time("@1764900000") == 1764900000.0
    assert H.show_time("Fri 2026-12-04 02:00:01 UTC") == datetime.datetime(
        2026, 12, 4, 2, 0, 1, tzinfo=datetime.timezone.utc).timestamp()
    assert H.show_time("n/a") is None and H.show_time("") is None


# ------------------------------------------------------------------ SMART, memory, taint
SMART_ATA = """smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)
=== START OF READ SMART DATA SECTION ===
SMART overall-health self-assessment test result: PASSED
"""
SMART_BAD = "SMART overall-health self-assessment test result: FAILED!\n"
SMART_SAS = "=== START OF READ SMART DATA SECTION ===\nSMART Health Status: OK\n"


def test_smart_verdicts() -> None:
    assert H.parse_smart_health(SMART_ATA) == "ok"
    assert H.parse_smart_health(SMART_SAS) == "ok"
    assert H.parse_smart_health(SMART_BAD) == "crit"
    assert H.parse_smart_health("Device does not support SMART\n") is None
    assert H.parse_smart_scan("/dev/sda -d scsi # /dev/sda, SCSI device\n"
                              "/dev/nvme0 -d nvme # /dev/nvme0, NVMe device\n") == [
        "/dev/sda", "/dev/nvme0"]


MEMINFO = """MemTotal:       16000000 kB
MemFree:          200000 kB
MemAvailable:     800000 kB
SwapTotal:       2000000 kB
SwapFree:         400000 kB
"""
PRESSURE = ("some avg10=12.50 avg60=35.10 avg300=20.00 total=123456\n"
            "full avg10=1.00 avg60=2.00 avg300=3.00 total=4567\n")


def test_memory_swap_and_pressure() -> None:
    row = H.check_memory(P, MEMINFO, PRESSURE)[0]
    assert row["value"] == 95.0 and row["swap_pct"] == 80.0 and row["psi"] == 35.1
    assert row["state"] == "crit"  # swap 80% and pressure 35% are both crit
    assert row["reason"] == "memory 95.0% used, swap 80.0% used, pressure 35.1% (avg60)"
    calm = H.check_memory(P, "MemTotal: 1000 kB\nMemAvailable: 900 kB\n", None)[0]
    assert calm["state"] == "ok" and calm["reason"] == "memory 10.0% used, swap none"


def test_kernel_taint_letters_ignored_warn_and_crit() -> None:
    assert H.check_taint(P, "0\n")[0]["state"] == "ok"
    ignored = H.check_taint(P, "4096\n")[0]  # O: out-of-tree module (ignored by default)
    assert ignored["state"] == "ok" and "ignored: O" in ignored["reason"]
    warn = H.check_taint(P, "512\n")[0]  # W: a kernel warning
    assert warn["state"] == "warn" and warn["reason"] == "kernel tainted W (512)"
    crit = H.check_taint(P, str(1 << 7 | 1 << 12))[0]  # D (oops) + O
    assert crit["state"] == "crit" and crit["flags"] == ["D", "O"]


JOURNAL_OOM = """\
2026-12-04T03:12:44+0000 h1 kernel: stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
2026-12-04T03:12:44+0000 h1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=stress,pid=4242,uid=0
2026-12-04T03:12:44+0000 h1 kernel: Out of memory: Killed process 4242 (stress) total-vm:2105376kB, anon-rss:1987232kB
2026-12-04T04:00:01+0000 h1 kernel: Memory cgroup out of memory: Killed process 977 (java) total-vm:4000000kB
"""


def test_oom_kills_are_counted_once_each() -> None:
    assert H.parse_oom(JOURNAL_OOM) == ["stress", "java"]
    assert H.parse_oom("2026-12-04T03:12:44+0000 h1 kernel: eth0: link up\n") == []
    now = time.time()
    assert H.oom_start({**P, "oom_since": "1764900000"}, now) == 1764900000.0
    assert H.oom_start({**P, "oom_since": "2026-12-04T00:00:00Z"}, now) == datetime.datetime(
        2026, 12, 4, tzinfo=datetime.timezone.utc).timestamp()
    assert H.oom_start(P, now) == now - 24 * 3600


def test_uid0_users_besides_root() -> None:
    passwd = "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n" \
             "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
    assert H.check_uid0(P, passwd)[0] == {"check": "uid0", "item": "", "state": "crit",
                                          "reason": "uid 0 besides root: toor",
                                          "users": ["toor"]}
    assert H.check_uid0({**P, "uid0_allow": ["root", "toor"]}, passwd)[0]["state"] == "ok"


# ------------------------------------------------------------------ ports
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 919649 1 0 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 917088 1 0 100 0 0 10 0
   2: 0100007F:0016 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 917999 1 0 100 0 0 10 0
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 919651 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 919652 1 0 100 0 0 10 0
"""
SS = """\
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=95,fd=3))
LISTEN 0      5          127.0.0.1:8000      0.0.0.0:*    users:(("python3",pid=410,fd=3))
LISTEN 0      128             [::]:22           [::]:*    users:(("sshd",pid=95,fd=4))
"""


def test_listening_sockets_from_proc_net_tcp_v4_and_v6() -> None:
    assert H.parse_proc_net_tcp(PROC_NET_TCP) == [("0.0.0.0", 22, "919649"),
                                                  ("127.0.0.1", 8080, "917088")]
    assert H.parse_proc_net_tcp(PROC_NET_TCP6) == [("[::]", 22, "919651"),
                                                   ("[::1]", 25, "919652")]


def test_listening_sockets_from_ss() -> None:
    assert H.parse_ss(SS) == [("0.0.0.0", 22, "sshd"), ("127.0.0.1", 8000, "python3"),
                              ("[::]", 22, "sshd")]


# ------------------------------------------------------------------ arguments
def test_checks_switch_on_and_off_and_unknown_names_are_named() -> None:
    assert H.selected({**P, "checks": ["all"], "skip": ["smart", "time"]})[0] == [
        c for c in H.CHECKS if c not in ("smart", "time")]
    assert H.selected({**P, "checks": ["disk", "ports"], "skip": []}) == (["disk", "ports"], [])
    assert H.selected({**P, "checks": ["disks"], "skip": []})[1] == ["disks"]


def test_summary_keeps_each_checks_worst_row() -> None:
    rows = [H.row("disk", "ok", "/ 10%", item="/"), H.row("disk", "crit", "/x 99%", item="/x"),
            H.row("disk", "warn", "/y 85%", item="/y"), H.row("time", "ok", "synced")]
    assert H.summarize(rows) == {"disk": {"state": "crit", "reason": "/x 99%"},
                                 "time": {"state": "ok", "reason": "synced"}}
    assert H.worst(["ok", "warn"]) == "warn" and H.worst([]) == "ok"


def test_role_defaults_equal_the_module_defaults_and_the_role_passes_every_argument() -> None:
    spec = find_module("health")
    assert spec is not None
    role = builtin_playbooks_dir() / "roles" / "health"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    task = yaml.safe_load((role / "tasks" / "main.yml").read_text())[0]["health"]
    for name, arg in spec.args.items():
        assert defaults[f"health_{name}"] == arg.get("default"), name
        assert task[name] == f"{{{{ health_{name} }}}}", name
    assert set(task) == set(spec.args)


def test_module_reads_only_no_write_call_in_its_source() -> None:
    source = (ROOT / "modules" / "health.py").read_text()
    for forbidden in ("atomic_write", "os.remove", "os.unlink", "shutil", "open(path, \"w",
                      "'w')", "\"w\")", "os.rename", "os.chmod"):
        assert forbidden not in source, forbidden
    assert os.path.exists(ROOT / "modules" / "health.py")
