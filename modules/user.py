"""Manage a local user account with the shadow tools (useradd, usermod, userdel, chpasswd).

The current account is read from the passwd, group and shadow databases; the
differences become one `usermod` call, so check mode reports exactly the fields
a real run would change. Password hashes travel on chpasswd's stdin, never on a
command line. The diff shows the account's fields before and after.
"""

import grp
import pwd
import time

ARGS = {
    "name": {"type": "str", "required": True, "aliases": ["user"], "help": "The login name."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the account should exist."},
    "uid": {"type": "int", "help": "The numeric user id."},
    "non_unique": {"type": "bool", "default": False, "help": "Allow a uid already in use."},
    "group": {"type": "str", "help": "The primary group (name or gid)."},
    "groups": {"type": "list", "elements": "str",
               "help": "Supplementary groups; an empty list removes them all unless append."},
    "append": {"type": "bool", "default": False,
               "help": "Add to `groups` instead of setting exactly them."},
    "comment": {"type": "str", "help": "The GECOS field (full name)."},
    "shell": {"type": "str", "help": "The login shell."},
    "home": {"type": "path", "help": "The home folder."},
    "move_home": {"type": "bool", "default": False,
                  "help": "With a new `home`, move the old folder's contents there."},
    "skeleton": {"type": "str", "help": "Skeleton folder for a new home."},
    "create_home": {"type": "bool", "default": True, "aliases": ["createhome"],
                    "help": "Create the home folder when the account is created."},
    "system": {"type": "bool", "default": False,
               "help": "Create a system account (only when creating)."},
    "password": {"type": "str", "no_log": True,
                 "help": "The crypted password hash (as in /etc/shadow), not clear text."},
    "update_password": {"type": "str", "default": "always", "choices": ["always", "on_create"],
                        "help": "Change the hash of an existing account, or only set it when "
                                "creating."},
    "password_lock": {"type": "bool",
                      "help": "Lock (true) or unlock (false) the password; none leaves it."},
    "password_expire_max": {"type": "int",
                            "help": "Maximum days a password stays valid (chage -M)."},
    "password_expire_min": {"type": "int",
                            "help": "Minimum days between password changes (chage -m)."},
    "password_expire_warn": {"type": "int",
                             "help": "Days of warning before a password expires (chage -W)."},
    "expires": {"type": "float",
                "help": "Account expiry as epoch seconds; a negative value removes it."},
    "generate_ssh_key": {"type": "bool", "default": False,
                         "help": "Create an SSH key pair for the user if none exists."},
    "ssh_key_type": {"type": "str", "default": "rsa", "help": "ssh-keygen -t."},
    "ssh_key_bits": {"type": "int", "help": "ssh-keygen -b (default: ssh-keygen's)."},
    "ssh_key_file": {"type": "path",
                     "help": "Private key path, relative to the home folder; "
                             "default .ssh/id_TYPE."},
    "ssh_key_comment": {"type": "str", "help": "The key's comment (default: user@host)."},
    "ssh_key_passphrase": {"type": "str", "no_log": True,
                           "help": "Passphrase of the new private key."},
    "remove": {"type": "bool", "default": False,
               "help": "With state=absent: also remove the home folder and mail spool."},
    "force": {"type": "bool", "default": False,
              "help": "With state=absent: remove even while the user is logged in."},
}


def _shadow(name, path="/etc/shadow"):
    """The shadow fields of `name` as a list, or None (not root, or no entry)."""
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name:
                    return fields
    except (IOError, OSError):
        return None
    return None


def _group_of(spec):
    """(name, gid) of a group given by name or gid, or None."""
    try:
        entry = grp.getgrgid(int(spec)) if str(spec).isdigit() else grp.getgrnam(spec)
    except (KeyError, ValueError):
        return None
    return entry.gr_name, entry.gr_gid


def current_state(name):
    """The account as a dict of the fields this module manages, or None if it is absent."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    primary = _group_of(entry.pw_gid)
    groups = sorted(g.gr_name for g in grp.getgrall()
                    if name in g.gr_mem and g.gr_gid != entry.pw_gid)
    shadow = _shadow(name)
    state = {"uid": entry.pw_uid, "group": primary[0] if primary else str(entry.pw_gid),
             "groups": groups, "comment": entry.pw_gecos, "home": entry.pw_dir,
             "shell": entry.pw_shell}
    if shadow is not None:
        state["password_hash"] = shadow[1]
        state["locked"] = shadow[1].startswith("!")
        state["expires"] = shadow[7] if len(shadow) > 7 else ""
        for key, index in _AGING:
            state[key] = shadow[index] if len(shadow) > index else ""
    return state


# (argument, field index in /etc/shadow, chage flag)
_AGING = (("password_expire_min", 3), ("password_expire_max", 4), ("password_expire_warn", 5))
_CHAGE = {"password_expire_min": "-m", "password_expire_max": "-M", "password_expire_warn": "-W"}


def plan_aging(p, cur):
    """chage options for the password aging fields that differ (all given ones on create)."""
    opts, fields = [], {}
    for key, _index in _AGING:
        if p.get(key) is None:
            continue
        have = (cur or {}).get(key)
        if cur is not None and have == str(p[key]):
            continue
        opts += [_CHAGE[key], str(p[key])]
        fields[key] = (have if have is not None else "", str(p[key]))
    return opts, fields


def _expiry_days(expires):
    return "" if expires < 0 else str(int(expires // 86400))


def plan_modify(p, cur):
    """usermod options for what differs, and the changed fields {field: (old, new)}."""
    opts, fields = [], {}
    if p.get("uid") is not None and p["uid"] != cur["uid"]:
        opts += ["-u", str(p["uid"])] + (["-o"] if p["non_unique"] else [])
        fields["uid"] = (cur["uid"], p["uid"])
    if p.get("group") is not None:
        want = _group_of(p["group"])
        if want[0] != cur["group"]:
            opts += ["-g", want[0]]
            fields["group"] = (cur["group"], want[0])
    if p.get("groups") is not None:
        primary = _group_of(p["group"])[0] if p.get("group") else cur["group"]
        want = sorted(set(g for g in (_group_of(x)[0] for x in p["groups"] if x)
                          if g != primary))
        target = sorted(set(cur["groups"]) | set(want)) if p["append"] else want
        if target != cur["groups"]:
            opts += ["-G", ",".join(want if p["append"] else target)]
            if p["append"]:
                opts.append("-a")
            fields["groups"] = (",".join(cur["groups"]), ",".join(target))
    for key, flag in (("comment", "-c"), ("shell", "-s"), ("home", "-d")):
        if p.get(key) is not None and p[key] != cur[key]:
            opts += [flag, p[key]]
            if key == "home" and p["move_home"]:
                opts.append("-m")
            fields[key] = (cur[key], p[key])
    if p.get("expires") is not None and "expires" in cur:
        want = _expiry_days(p["expires"])
        if want != cur["expires"]:
            opts += ["-e", "" if want == "" else time.strftime(
                "%Y-%m-%d", time.gmtime(p["expires"]))]
            fields["expires"] = (cur["expires"], want)
    return opts, fields


def _password_plan(p, cur, creating):
    """(new_hash or None, lock action '-L'/'-U'/None) for the password fields."""
    new_hash = None
    if p.get("password") is not None and (creating or p["update_password"] == "always"):
        have = (cur or {}).get("password_hash")
        base = have[1:] if have and have.startswith("!") and p.get("password_lock") else have
        if base != p["password"]:
            new_hash = p["password"]
    lock = None
    if p.get("password_lock") is not None:
        locked = (cur or {}).get("locked", False)
        if new_hash is not None:
            locked = False  # chpasswd -e writes the hash as given
        if p["password_lock"] and not locked:
            lock = "-L"
        elif not p["password_lock"] and locked:
            lock = "-U"
    return new_hash, lock


def _describe(state):
    if state is None:
        return ""
    keys = ("uid", "group", "groups", "comment", "home", "shell", "expires") + tuple(
        k for k, _i in _AGING)
    lines = []
    for key in keys:
        if key in state:
            value = state[key]
            lines.append("%s: %s" % (key, ",".join(value) if isinstance(value, list) else value))
    if "locked" in state:
        lines.append("password_locked: %s" % state["locked"])
    return "\n".join(lines) + "\n"


def main(m):
    p = m.params
    name = p["name"]
    cur = current_state(name)
    result = {"name": name, "state": p["state"]}
    if p["state"] == "absent":
        if cur is None:
            result.update(changed=False, msg="user %s already absent" % name)
            return result
        result.update(changed=True, msg="%s user %s" % (
            "would remove" if m.check_mode else "removed", name),
            diff=m.text_diff(_describe(cur), "", "user %s" % name))
        if not m.check_mode:
            argv = [m.which("userdel", required=True)]
            argv += (["-r"] if p["remove"] else []) + (["-f"] if p["force"] else []) + [name]
            rc, out, err = m.run(argv)
            # userdel -r returns 12 when the mail spool or home was already gone.
            if rc not in (0, 12) or (rc == 12 and not p["remove"]):
                m.fail("userdel failed: %s" % (err or out).strip(), rc=rc)
        return result

    for gname in ([p["group"]] if p.get("group") else []) + (p.get("groups") or []):
        if gname and _group_of(gname) is None:
            m.fail("Group %s does not exist" % gname)

    password = p.get("password")
    if password is not None and password and not password.startswith(("$", "!", "*")):
        # shadow stores hashes; a clear-text value here would become the literal hash.
        m.warn("the password for %s does not look like a crypt hash ($6$...); it is stored "
               "as given and no login will accept it" % name)
    creating = cur is None
    new_hash, lock = _password_plan(p, cur, creating)
    if creating:
        argv = [m.which("useradd", required=True)]
        if p.get("uid") is not None:
            argv += ["-u", str(p["uid"])] + (["-o"] if p["non_unique"] else [])
        if p.get("group"):
            argv += ["-g", _group_of(p["group"])[0]]
        elif _group_of(name) is not None:
            argv += ["-g", name]  # useradd refuses to create a group that already exists
        if p.get("groups"):
            argv += ["-G", ",".join(g for g in p["groups"] if g)]
        for key, flag in (("comment", "-c"), ("shell", "-s"), ("home", "-d"),
                          ("skeleton", "-k")):
            if p.get(key) is not None:
                argv += [flag, p[key]]
        if p.get("expires") is not None and p["expires"] >= 0:
            argv += ["-e", time.strftime("%Y-%m-%d", time.gmtime(p["expires"]))]
        argv += ["-r"] if p["system"] else []
        argv += ["-m"] if p["create_home"] else ["-M"]
        argv.append(name)
        result.update(changed=True, msg="%s user %s" % (
            "would create" if m.check_mode else "created", name))
        commands = [argv]
        aging, fields = plan_aging(p, None)
        if aging:
            commands.append([m.which("chage", required=True)] + aging + [name])
    else:
        opts, fields = plan_modify(p, cur)
        commands = [[m.which("usermod", required=True)] + opts + [name]] if opts else []
        aging, aging_fields = plan_aging(p, cur)
        fields.update(aging_fields)
        if aging:
            commands.append([m.which("chage", required=True)] + aging + [name])
        changed = bool(commands) or new_hash is not None or lock is not None
        what = sorted(fields) + (["password"] if new_hash is not None else []) + (
            ["password_lock"] if lock else [])
        result.update(changed=changed, msg=("%s %s of user %s" % (
            "would change" if m.check_mode else "changed", ", ".join(what), name))
            if changed else "user %s already as requested" % name)
    if not m.check_mode:
        for argv in commands:
            m.run(argv, check=True)
        if new_hash is not None:
            m.run([m.which("chpasswd", required=True), "-e"], data="%s:%s\n" % (name, new_hash),
                  check=True)
        if lock is not None:
            m.run([m.which("usermod", required=True), lock, name], check=True)
    after = current_state(name) if not m.check_mode else _predict(cur, fields, p, lock)
    if result["changed"]:
        result["diff"] = m.text_diff(_describe(cur), _describe(after), "user %s" % name)
    if after is not None:
        facts = dict(uid=after.get("uid"), group=after.get("group"),
                     groups=",".join(after.get("groups", [])), home=after.get("home"),
                     shell=after.get("shell"), comment=after.get("comment"))
        # A check-mode creation cannot know what useradd would pick: leave those out.
        result.update((k, v) for k, v in facts.items() if v not in ("(new)", "(default)"))
    if p["generate_ssh_key"]:
        _ssh_key(m, p, name, result)
    result.update(system=p["system"], create_home=p["create_home"])
    if p.get("password") is not None:
        result["password"] = "NOT_LOGGING_PASSWORD"
    return result


def _predict(cur, fields, p, lock):
    """The account after the planned change, for the check-mode diff."""
    if cur is None:
        new = {"uid": p.get("uid") if p.get("uid") is not None else "(new)",
               "group": p.get("group") or p["name"], "groups": p.get("groups") or [],
               "comment": p.get("comment") or "", "home": p.get("home") or "(default)",
               "shell": p.get("shell") or "(default)"}
        new.update((k, v[1]) for k, v in fields.items())
        return new
    new = dict(cur)
    for key, (_old, value) in fields.items():
        new[key] = value.split(",") if key == "groups" and value else (
            [] if key == "groups" else value)
    if lock is not None:
        new["locked"] = lock == "-L"
    return new


def _ssh_key(m, p, name, result):
    """Generate the user's key pair unless the private key file exists (never overwritten)."""
    import os
    import socket
    try:
        entry = pwd.getpwnam(name)
        home, uid, gid = entry.pw_dir, entry.pw_uid, entry.pw_gid
    except KeyError:  # check mode on an account that does not exist yet
        home, uid, gid = p.get("home") or "/home/" + name, None, None
    rel = p.get("ssh_key_file") or ".ssh/id_%s" % p["ssh_key_type"]
    path = rel if os.path.isabs(rel) else os.path.join(home, rel)
    result["ssh_key_file"] = path
    if os.path.exists(path):
        if os.path.exists(path + ".pub"):
            with open(path + ".pub") as handle:
                result["ssh_public_key"] = handle.read().strip()
        return
    result["changed"] = True
    result["msg"] = (result.get("msg", "") + "; " if result.get("msg") else "") + (
        "%s SSH key %s" % ("would generate" if m.check_mode else "generated", path))
    if m.check_mode:
        return
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
        if uid is not None:
            os.chown(folder, uid, gid)
    comment = p.get("ssh_key_comment") or "%s@%s" % (name, socket.gethostname())
    argv = [m.which("ssh-keygen", required=True), "-q", "-t", p["ssh_key_type"], "-f", path,
            "-C", comment, "-N", p.get("ssh_key_passphrase") or ""]
    if p.get("ssh_key_bits"):
        argv[4:4] = ["-b", str(p["ssh_key_bits"])]
    m.run(argv, check=True)
    for f in (path, path + ".pub"):
        if uid is not None:
            os.chown(f, uid, gid)
    with open(path + ".pub") as handle:
        result["ssh_public_key"] = handle.read().strip()
    _rc, out, _err = m.run([m.which("ssh-keygen", required=True), "-l", "-f", path + ".pub"])
    result["ssh_fingerprint"] = out.strip()
