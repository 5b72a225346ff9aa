"""pam_limits, pamd and openssh_keypair against Ansible's own modules.

pam_limits and pamd: same file, same bytes (community.general). openssh_keypair: the
same starting key files, compared on everything that does not depend on random key
bits (community.crypto's ssh-keygen backend; see KEY_CASES).

Each case runs Ansible's module (from the `ansible` package in the test venv, as a
subprocess with its arguments file, on a temp file; never a file of this machine) and
ours (through the agent runtime, on a copy of the same file), then compares the
resulting file byte for byte, `changed` and `failed`. pamd stamps a changed file with
"# Updated by Ansible - <time>": that one line is compared without its time.

KNOWN_DIFFERENCES pins where we differ on purpose (Ansible's bugs, named in the
modules' docstrings): the test asserts that Ansible still does what the comment says
and that we do the sensible thing, so a fix upstream shows up here. Skipped when
community.general is not installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = "ansible_collections.community.general.plugins.modules."

LIMITS = ("# /etc/security/limits.conf\n#\n#<domain>      <type>  <item>         <value>\n"
          "#*               soft    core            0\n\n"
          "*               hard    core            0\n"
          "@student        -       maxlogins       4\n"
          "joe\tsoft\tnofile\t1024\n")

# (id, starting content or None for no file, arguments without dest)
LIMIT_CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("new_file_with_comment", None,
     {"domain": "*", "limit_type": "hard", "limit_item": "core", "value": "0",
      "comment": "Prevent core dumps for all users"}),
    ("append_new_limit", LIMITS, {"domain": "bob", "limit_type": "soft", "limit_item": "nproc",
                                  "value": "100"}),
    ("change_value_rewrites_line", LIMITS, {"domain": "joe", "limit_type": "soft",
                                            "limit_item": "nofile", "value": "4096"}),
    ("same_value_no_change", LIMITS, {"domain": "*", "limit_type": "hard", "limit_item": "core",
                                      "value": "0"}),
    ("use_max_keeps_larger", LIMITS, {"domain": "joe", "limit_type": "soft",
                                      "limit_item": "nofile", "value": "512", "use_max": True}),
    ("use_max_takes_larger", LIMITS, {"domain": "joe", "limit_type": "soft",
                                      "limit_item": "nofile", "value": "8192", "use_max": True}),
    ("use_min_replaces_unlimited", "joe soft nofile unlimited\n",
     {"domain": "joe", "limit_type": "soft", "limit_item": "nofile", "value": "100",
      "use_min": True}),
    ("dash_type_with_comment", LIMITS, {"domain": "@student", "limit_type": "-",
                                        "limit_item": "maxlogins", "value": "2",
                                        "comment": "two logins"}),
    ("unlimited_value", LIMITS, {"domain": "joe", "limit_type": "hard", "limit_item": "memlock",
                                 "value": "unlimited"}),
    ("nice_negative", "", {"domain": "*", "limit_type": "-", "limit_item": "nice",
                           "value": "-5"}),
    ("invalid_value_in_file_fails", "joe soft nofile lots\n",
     {"domain": "joe", "limit_type": "soft", "limit_item": "nofile", "value": "1"}),
    ("invalid_value_fails", LIMITS, {"domain": "joe", "limit_type": "soft",
                                     "limit_item": "nofile", "value": "-3"}),
]

PAMD = ("#%PAM-1.0\n# This file is auto-generated.\n"
        "auth        required      pam_env.so\n"
        "auth        sufficient    pam_unix.so try_first_pass nullok\n"
        "auth        required      pam_deny.so\n\n"
        "account     required      pam_unix.so\n\n"
        "password    requisite     pam_pwquality.so try_first_pass local_users_only retry=3\n"
        "password    sufficient    pam_unix.so sha512 shadow nullok try_first_pass use_authtok\n"
        "password    required      pam_deny.so\n\n"
        "session     optional      pam_keyinit.so revoke\n"
        "session     [success=1 default=ignore] pam_succeed_if.so service in crond quiet\n"
        "session     required      pam_unix.so\n")

DEBIAN_SSHD = ("# PAM configuration for the Secure Shell service\n\n"
               "# Standard Un*x authentication.\n@include common-auth\n\n"
               "account    required     pam_nologin.so\n"
               "@include common-account\n\n"
               "session    optional     pam_motd.so  motd=/run/motd.dynamic\n"
               "session    optional     pam_motd.so noupdate\n\n"
               "session    optional     pam_mail.so standard noenv # [1]\n"
               "@include common-password\n")

# /etc/pam.d/sshd of Debian 12 (openssh-server 1:9.2p1-2+deb12u*), as in the lab image.
DEBIAN12_SSHD = (
    '# PAM configuration for the Secure Shell service\n'
    '\n'
    '# Standard Un*x authentication.\n'
    '@include common-auth\n'
    '\n'
    '# Disallow non-root logins when /etc/nologin exists.\n'
    'account    required     pam_nologin.so\n'
    '\n'
    '# Uncomment and edit /etc/security/access.conf if you need to set complex\n'
    '# access limits that are hard to express in sshd_config.\n'
    '# account  required     pam_access.so\n'
    '\n'
    '# Standard Un*x authorization.\n'
    '@include common-account\n'
    '\n'
    '# SELinux needs to be the first session rule.  This ensures that any\n'
    '# lingering context has been cleared.  Without this it is possible that a\n'
    '# module could execute code in the wrong domain.\n'
    'session [success=ok ignore=ignore module_unknown'
    '=ignore default=bad]        pam_selinux.so close\n'
    '\n'
    '# Set the loginuid process attribute.\n'
    'session    required     pam_loginuid.so\n'
    '\n'
    '# Create a new session keyring.\n'
    'session    optional     pam_keyinit.so force revoke\n'
    '\n'
    '# Standard Un*x session setup and teardown.\n'
    '@include common-session\n'
    '\n'
    '# Print the message of the day upon successful login.\n'
    '# This includes a dynamically generated part from /run/motd.dynamic\n'
    '# and a static (admin-editable) part from /etc/motd.\n'
    'session    optional     pam_motd.so  motd=/run/motd.dynamic\n'
    'session    optional     pam_motd.so noupdate\n'
    '\n'
    "# Print the status of the user's mailbox upon successful login.\n"
    'session    optional     pam_mail.so standard noenv # [1]\n'
    '\n'
    '# Set up user limits from /etc/security/limits.conf.\n'
    'session    required     pam_limits.so\n'
    '\n'
    '# Read environment variables from /etc/environment and\n'
    '# /etc/security/pam_env.conf.\n'
    'session    required     pam_env.so # [1]\n'
    '# In Debian 4.0 (etch), locale-related environment variables were moved to\n'
    '# /etc/default/locale, so read that as well.\n'
    'session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale\n'
    '\n'
    '# SELinux needs to intervene at login time to ensure that the process starts\n'
    '# in the proper default security context.  Only sessions which are intended\n'
    "# to run in the user's context should be run after this.\n"
    'session [success=ok ignore=ignore module_unknown'
    '=ignore default=bad]        pam_selinux.so open\n'
    '\n'
    '# Standard Un*x password updating.\n'
    '@include common-password\n'
)

# (id, starting content, arguments without name/path)
PAMD_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("absent_removes_every_match", DEBIAN_SSHD,
     {"type": "session", "control": "optional", "module_path": "pam_motd.so",
      "state": "absent"}),
    ("devsec_disable_dynamic_motd_debian12", DEBIAN12_SSHD,
     {"type": "session", "control": "optional", "module_path": "pam_motd.so",
      "state": "absent", "backup": True}),
    ("debian12_bracket_control_args", DEBIAN12_SSHD,
     {"type": "session", "control": "[success=ok ignore=ignore module_unknown=ignore "
      "default=bad]", "module_path": "pam_selinux.so", "state": "args_absent",
      "module_arguments": ["close"]}),
    ("absent_nothing_to_remove", DEBIAN_SSHD,
     {"type": "session", "control": "optional", "module_path": "pam_lastlog.so",
      "state": "absent"}),
    ("updated_control", PAMD, {"type": "auth", "control": "required",
                               "module_path": "pam_deny.so", "new_control": "requisite"}),
    ("updated_arguments", PAMD, {"type": "password", "control": "sufficient",
                                 "module_path": "pam_unix.so",
                                 "module_arguments": ["sha512", "shadow", "remember=5"]}),
    ("updated_same_no_change", PAMD, {"type": "auth", "control": "required",
                                      "module_path": "pam_env.so", "new_control": "required"}),
    ("before_inserts", PAMD, {"type": "auth", "control": "required", "module_path": "pam_deny.so",
                              "state": "before", "new_type": "auth", "new_control": "required",
                              "new_module_path": "pam_faillock.so",
                              "module_arguments": "authfail deny=3"}),
    ("after_inserts", PAMD, {"type": "auth", "control": "required", "module_path": "pam_env.so",
                             "state": "after", "new_type": "auth", "new_control": "required",
                             "new_module_path": "pam_faildelay.so",
                             "module_arguments": ["delay=2000000"]}),
    ("after_already_there", PAMD, {"type": "auth", "control": "required",
                                   "module_path": "pam_env.so", "state": "after",
                                   "new_type": "auth", "new_control": "sufficient",
                                   "new_module_path": "pam_unix.so"}),
    ("args_present_adds_and_sets", PAMD,
     {"type": "password", "control": "requisite", "module_path": "pam_pwquality.so",
      "state": "args_present", "module_arguments": ["retry=5", "minlen=14"]}),
    ("args_present_nothing_new", PAMD,
     {"type": "password", "control": "requisite", "module_path": "pam_pwquality.so",
      "state": "args_present", "module_arguments": ["retry=3"]}),
    ("args_absent_removes", PAMD, {"type": "auth", "control": "sufficient",
                                   "module_path": "pam_unix.so", "state": "args_absent",
                                   "module_arguments": ["nullok"]}),
    ("bracket_control_matched", PAMD,
     {"type": "session", "control": "[success=1 default=ignore]",
      "module_path": "pam_succeed_if.so", "new_control": "[success=2 default=ignore]"}),
    ("new_type_dash", PAMD, {"type": "session", "control": "optional",
                             "module_path": "pam_keyinit.so", "new_type": "-session"}),
    ("missing_file_fails", "", {"type": "auth", "control": "required",
                                "module_path": "pam_env.so", "state": "absent"}),
]

# Where we differ from Ansible on purpose: id -> (module, content, args, Ansible's file,
# ours). See the modules' docstrings for the reasons.
KNOWN_DIFFERENCES: dict[str, tuple[str, str, dict[str, Any], str, str]] = {
    # Ansible writes the first inline comment of the whole file (with its newline) onto
    # the changed line, which adds an empty line; ours keeps the line's own comment.
    "pam_limits_foreign_comment": (
        "pam_limits", "* soft core 0 # no cores\njoe\tsoft\tnofile\t10\n",
        {"domain": "joe", "limit_type": "soft", "limit_item": "nofile", "value": "20"},
        "* soft core 0 # no cores\njoe\tsoft\tnofile\t20\t# no cores\n\n",
        "* soft core 0 # no cores\njoe\tsoft\tnofile\t20\n"),
    # Ansible appends the new line to a last line that has no newline.
    "pam_limits_no_final_newline": (
        "pam_limits", "joe soft nofile 10",
        {"domain": "bob", "limit_type": "soft", "limit_item": "nofile", "value": "20"},
        "joe soft nofile 10bob\tsoft\tnofile\t20\n",
        "joe soft nofile 10\nbob\tsoft\tnofile\t20\n"),
    # Ansible links the new rule straight to the rule it follows, so the comment between
    # them disappears from the file; ours keeps every comment.
    "pamd_after_keeps_comment": (
        "pamd", "auth required pam_env.so\n# keep me\nauth required pam_deny.so\n",
        {"type": "auth", "control": "required", "module_path": "pam_env.so",
         "state": "after", "new_type": "auth", "new_control": "optional",
         "new_module_path": "pam_x.so"},
        "auth       required pam_env.so\nMARK\nauth       optional pam_x.so\n"
        "auth       required pam_deny.so\n",
        "auth       required pam_env.so\nMARK\nauth       optional pam_x.so\n# keep me\n"
        "auth       required pam_deny.so\n"),
    # A trailing "# comment" on a rule is a comment to PAM; Ansible takes its words as
    # module arguments and appends new ones after it (where PAM ignores them).
    "pamd_args_before_trailing_comment": (
        "pamd", "session optional pam_mail.so standard # see [1]\n",
        {"type": "session", "control": "optional", "module_path": "pam_mail.so",
         "state": "args_present", "module_arguments": ["noenv"]},
        "\nMARK\nsession    optional pam_mail.so standard # see [1] noenv\n",
        "\nMARK\nsession    optional pam_mail.so standard noenv # see [1]\n"),
    # Inserting before a rule, Ansible drops the blank lines and comments between it and
    # the rule above; ours inserts right before the rule and keeps them.
    "pamd_before_keeps_blank_line": (
        "pamd", "auth required pam_env.so\n\nauth required pam_deny.so\n",
        {"type": "auth", "control": "required", "module_path": "pam_deny.so",
         "state": "before", "new_type": "auth", "new_control": "required",
         "new_module_path": "pam_faillock.so", "module_arguments": ["preauth"]},
        "auth       required pam_env.so\nMARK\nauth       required pam_faillock.so preauth\n"
        "auth       required pam_deny.so\n",
        "auth       required pam_env.so\nMARK\n\nauth       required pam_faillock.so preauth\n"
        "auth       required pam_deny.so\n"),
}

_MARK = re.compile(r"^# Updated by Ansible - \S+$", re.M)


def _unmark(text: str) -> str:
    return _MARK.sub("MARK", text)


def _ansible(module: str, args: dict[str, Any], tmp: Path) -> dict[str, Any]:
    argfile = tmp / "args.json"
    payload = dict(args, _ansible_diff=True, _ansible_tmpdir=str(tmp),
                   _ansible_remote_tmp=str(tmp))
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    proc = subprocess.run([sys.executable, "-m", ANSIBLE + module, str(argfile)],
                          capture_output=True, text=True, timeout=60, cwd=tmp)
    try:
        out: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:  # a crash: Ansible printed a traceback, not JSON
        out = {"failed": True, "msg": proc.stdout + proc.stderr}
    return out


def _ours(module: str, args: dict[str, Any]) -> dict[str, Any]:
    source = (ROOT / "modules" / f"{module}.py").read_text()
    return run_module(source, normalize_args(module, args), diff_mode=True, name=module)


def _both(module: str, content: str | None, args: dict[str, Any], tmp: Path,
          filename: str) -> tuple[dict[str, Any], dict[str, Any], Path, Path]:
    pytest.importorskip("ansible_collections.community.general")
    results, files = [], []
    for side in ("ansible", "ours"):
        folder = tmp / side
        (folder / "etc").mkdir(parents=True)
        target = folder / "etc" / filename
        if content is not None:
            target.write_bytes(content.encode())
        if module == "pam_limits":
            call = dict(args, dest=str(target))
        else:
            call = dict(args, name=filename, path=str(target.parent))
        results.append(_ansible(module, call, folder) if side == "ansible"
                       else _ours(module, call))
        files.append(target)
    return results[0], results[1], files[0], files[1]


def _compare(theirs: dict[str, Any], ours: dict[str, Any], tfile: Path, ofile: Path) -> None:
    assert bool(ours.get("failed")) == bool(theirs.get("failed")), (theirs, ours)
    assert tfile.exists() == ofile.exists()
    if tfile.exists():
        assert _unmark(ofile.read_text()) == _unmark(tfile.read_text())
    if not theirs.get("failed"):
        assert ours["changed"] == theirs["changed"], (theirs, ours)


@pytest.mark.parametrize("case", LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_pam_limits_matches_ansible_byte_for_byte(
        case: tuple[str, str | None, dict[str, Any]], tmp_path: Path) -> None:
    _name, content, args = case
    theirs, ours, tfile, ofile = _both("pam_limits", content, args, tmp_path, "limits.conf")
    _compare(theirs, ours, tfile, ofile)
    if not theirs.get("failed"):
        assert ours["msg"] == theirs["msg"]
        if theirs["changed"]:
            assert ours["diff"]["before"] == theirs["diff"]["before"].replace("b''", "")
            assert ours["diff"]["after"] == theirs["diff"]["after"]


@pytest.mark.parametrize("case", PAMD_CASES, ids=[c[0] for c in PAMD_CASES])
def test_pamd_matches_ansible_byte_for_byte(case: tuple[str, str, dict[str, Any]],
                                            tmp_path: Path) -> None:
    name, content, args = case
    theirs, ours, tfile, ofile = _both("pamd", None if name == "missing_file_fails" else content,
                                       args, tmp_path, "system-auth")
    _compare(theirs, ours, tfile, ofile)
    if not theirs.get("failed"):
        assert ours["change_count"] == theirs["change_count"]


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_known_differences_still_hold(name: str, tmp_path: Path) -> None:
    module, content, args, ansible_file, our_file = KNOWN_DIFFERENCES[name]
    filename = "limits.conf" if module == "pam_limits" else "svc"
    theirs, ours, tfile, ofile = _both(module, content, args, tmp_path, filename)
    assert not theirs.get("failed") and not ours.get("failed"), (theirs, ours)
    assert _unmark(tfile.read_text()) == ansible_file, "Ansible changed: update the module?"
    assert _unmark(ofile.read_text()) == our_file


# ------------------------------------------------------------- openssh_keypair
# Keys are random, so the two sides start from the same key files and are compared on
# what does not depend on the random bits: changed/failed, whether the private key was
# replaced, the result's size/type/comment, the .pub's comment, the files' modes.
KEY_CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("new_ed25519_with_comment", None, {"type": "ed25519", "comment": "ops@example"}),
    ("new_rsa_with_mode", None, {"size": 1024, "mode": "0400"}),
    ("same_key_no_change", "ed25519", {"type": "ed25519"}),
    ("size_differs_partial_regenerates", "rsa1024", {"size": 2048}),
    ("size_differs_never_keeps", "rsa1024", {"size": 2048, "regenerate": "never"}),
    ("size_differs_fail_fails", "rsa1024", {"size": 2048, "regenerate": "fail"}),
    ("comment_changes_without_regenerating", "ed25519", {"type": "ed25519",
                                                         "comment": "new@host"}),
    ("missing_pub_restored", "ed25519-nopub", {"type": "ed25519"}),
    ("broken_key_partial_fails", "broken", {"type": "ed25519"}),
    ("absent_removes", "ed25519", {"state": "absent"}),
    ("force_regenerates", "ed25519", {"type": "ed25519", "force": True}),
]


def _start_key(folder: Path, kind: str | None, source: Path) -> Path:
    key = folder / "id"
    if kind is None:
        return key
    if kind == "broken":
        key.write_text("garbage\n")
        key.chmod(0o600)
        return key
    if not (source / "id").exists():
        argv = ["ssh-keygen", "-q", "-N", "", "-C", "old@host", "-f", str(source / "id")]
        argv += ["-t", "rsa", "-b", "1024"] if kind == "rsa1024" else ["-t", "ed25519"]
        subprocess.run(argv, check=True)
    for name in ("id", "id.pub"):
        if name == "id.pub" and kind.endswith("-nopub"):
            continue
        (folder / name).write_bytes((source / name).read_bytes())
        (folder / name).chmod((source / name).stat().st_mode & 0o777)
    return key


def _key_view(key: Path, result: dict[str, Any], original: bytes | None) -> dict[str, Any]:
    pub = key.parent / "id.pub"
    view: dict[str, Any] = {
        "changed": bool(result.get("changed")), "failed": bool(result.get("failed")),
        "exists": key.exists(), "pub_exists": pub.exists()}
    if not result.get("failed"):
        view.update(size=result.get("size"), type=result.get("type"),
                    comment=result.get("comment"))
    if key.exists() and original is not None:
        view["replaced"] = key.read_bytes() != original and result.get("fingerprint") != ""
    if key.exists():
        view["mode"] = oct(key.stat().st_mode & 0o777)
    if pub.exists():
        parts = pub.read_text().strip(" \n").split(" ", 2)
        view["pub_comment"] = parts[2] if len(parts) > 2 else ""
        view["pub_mode"] = oct(pub.stat().st_mode & 0o777)
    return view


@pytest.mark.parametrize("case", KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_openssh_keypair_agrees_with_community_crypto(
        case: tuple[str, str | None, dict[str, Any]], tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.community.crypto")
    _name, kind, args = case
    source = tmp_path / "source"
    source.mkdir()
    views = []
    for side in ("ansible", "ours"):
        folder, scratch = tmp_path / side, tmp_path / f"{side}-tmp"
        folder.mkdir()
        scratch.mkdir()
        key = _start_key(folder, kind, source)
        original = key.read_bytes() if key.exists() else None
        call = dict(args, path=str(key))
        if side == "ansible":
            argfile = scratch / "args.json"
            argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
                call, _ansible_tmpdir=str(scratch), _ansible_remote_tmp=str(scratch))}))
            proc = subprocess.run(
                [sys.executable, "-m",
                 "ansible_collections.community.crypto.plugins.modules.openssh_keypair",
                 str(argfile)], capture_output=True, text=True, timeout=120, cwd=scratch)
            result = json.loads(proc.stdout)
        else:
            result = _ours("openssh_keypair", call)
        views.append(_key_view(key, result, original))
    assert views[1] == views[0]
