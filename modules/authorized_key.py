"""Add or remove SSH public keys in a user's authorized_keys file.

A key is identified by its type and base64 blob; its options and comment are part
of the desired line, so changing `key_options` rewrites that line in place. Lines
the module does not own (other keys, comments) stay as they are unless
`exclusive` asks for exactly the given keys. The file is written atomically with
mode 0600 and owned by the user; `manage_dir` creates ~/.ssh (0700) when missing.
"""

import os
import pwd
import re

ARGS = {
    "user": {"type": "str", "required": True, "help": "Whose authorized_keys to change."},
    "key": {"type": "str", "required": True,
            "help": "One or more public keys, one per line (options and comment allowed)."},
    "path": {"type": "path",
             "help": "The authorized_keys file; default ~USER/.ssh/authorized_keys."},
    "manage_dir": {"type": "bool", "default": True,
                   "help": "Create the file's folder (0700, owned by the user) if missing."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the keys should be in the file."},
    "key_options": {"type": "str",
                    "help": "sshd options for the keys, e.g. no-pty,from=\"10.0.0.0/8\"."},
    "exclusive": {"type": "bool", "default": False,
                  "help": "Remove every other key from the file."},
    "comment": {"type": "str", "help": "Replace the keys' comment with this one."},
    "follow": {"type": "bool", "default": False,
               "help": "If the file is a symlink, write to its target."},
    "validate_certs": {"type": "bool", "default": True,
                       "help": "Accepted for Ansible compatibility (keys from URLs are not "
                               "fetched)."},
}

_TYPE = re.compile(r"^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com|"
                   r"ssh-\S+-cert-v01@openssh\.com|ecdsa-sha2-nistp\d+-cert-v01@openssh\.com)$")


def split_options(line):
    """Split a key line into (options, rest): options end at the first unquoted blank."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif ch.isspace() and not quoted:
            return line[:i], line[i:].strip()
    return line, ""


def parse_key(line):
    """(options, type, blob, comment) of an authorized_keys line, or None if it is not one."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    first = line.split(None, 1)[0]
    options = ""
    rest = line
    if not _TYPE.match(first):
        options, rest = split_options(line)
    parts = rest.split(None, 2)
    if len(parts) < 2 or not _TYPE.match(parts[0]):
        return None
    return (options, parts[0], parts[1], parts[2].strip() if len(parts) > 2 else "")


def render(options, ktype, blob, comment):
    text = "%s %s" % (ktype, blob)
    if options:
        text = options + " " + text
    if comment:
        text += " " + comment
    return text


def plan(existing_text, wanted, state, exclusive):
    """New file text. `wanted` is a list of (options, type, blob, comment)."""
    lines = existing_text.splitlines()
    by_blob = dict(((w[1], w[2]), w) for w in wanted)
    out, placed = [], set()
    for line in lines:
        parsed = parse_key(line)
        if parsed is None:
            if not exclusive:
                out.append(line)
            continue
        ident = (parsed[1], parsed[2])
        if ident in by_blob:
            if state == "present" and ident not in placed:
                want = render(*by_blob[ident])
                out.append(line if parse_key(line) == by_blob[ident] else want)
                placed.add(ident)
            continue
        if not exclusive:
            out.append(line)
    if state == "present":
        for w in wanted:
            if (w[1], w[2]) not in placed:
                out.append(render(*w))
                placed.add((w[1], w[2]))
    return "\n".join(out) + ("\n" if out else "")


def main(m):
    p = m.params
    try:
        account = pwd.getpwnam(p["user"])
    except KeyError:
        m.fail("user %s does not exist" % p["user"])
    wanted = []
    for line in p["key"].splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        if re.match(r"^https?://", line.strip()):
            m.fail("keys from URLs are not fetched; give the key text")
        parsed = parse_key(line)
        if parsed is None:
            m.fail("invalid key specified: %s" % line.strip()[:60])
        options, ktype, blob, comment = parsed
        if p.get("key_options") is not None:
            options = p["key_options"].strip()
        if p.get("comment") is not None:
            comment = p["comment"]
        wanted.append((options, ktype, blob, comment))
    if not wanted and p["state"] == "present" and not p["exclusive"]:
        m.fail("no key given")

    path = p.get("path") or os.path.join(account.pw_dir, ".ssh", "authorized_keys")
    if p["follow"] and os.path.islink(path):
        path = os.path.realpath(path)
    raw = m.read_bytes(path)
    before = raw.decode("utf-8") if raw is not None else ""
    after = plan(before, wanted, p["state"], p["exclusive"])
    if raw is None and after == "":
        after = before
    changed = after != before
    result = {"changed": changed, "user": p["user"], "keyfile": path, "path": p.get("path"),
              "state": p["state"], "exclusive": p["exclusive"], "key": p["key"],
              "key_options": p.get("key_options"), "manage_dir": p["manage_dir"],
              "diff": m.text_diff(before, after, path)}
    if not changed:
        result["msg"] = "keys already %s" % p["state"]
        return result
    result["msg"] = "%s %s" % ("would update" if m.check_mode else "updated", path)
    if m.check_mode:
        return result
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        if not p["manage_dir"]:
            m.fail("%s does not exist and manage_dir is false" % folder)
        os.makedirs(folder, 0o700)
        os.chown(folder, account.pw_uid, account.pw_gid)
    elif p["manage_dir"] and p.get("path") is None:
        m.set_attributes(folder, owner=p["user"], mode="0700")
    group = _group_name(account.pw_gid)
    m.atomic_write(path, after.encode("utf-8"), mode=0o600, owner=p["user"], group=group,
                   follow=p["follow"])
    return result


def _group_name(gid):
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
