"""Generate an OpenSSH private/public key pair with ssh-keygen, and keep it as asked.

Same arguments and result as community.crypto.openssh_keypair (its `opensshbin`
backend): the key at `path` (and `path`.pub) is generated when missing, and an
existing one is judged by `regenerate`: `never` (keep it; fail if unreadable),
`fail` (fail if its type/size differ), `partial_idempotence` (the default: regenerate
when type/size differ, fail if unreadable), `full_idempotence` (also regenerate an
unreadable key) or `always` (same as `force`). A wrong or missing .pub is rewritten
from the private key, a different `comment` is set with `ssh-keygen -c`, and
mode/owner/group apply to both files. Returns filename, fingerprint, public_key
("type base64"), size, type and comment.

Unlike Ansible's ssh-keygen backend, `passphrase` works here (ssh-keygen -N/-P):
a new key is encrypted with it and an existing one must open with it. The passphrase
travels to ssh-keygen on its argv, which other local users can read in /proc for
the few milliseconds ssh-keygen runs. The key's facts are read from the private key
itself (through a link in the agent's private temp folder), never from a .pub that
may belong to another key.
"""

import os
import re

ARGS = {
    "path": {"type": "path", "required": True,
             "help": "The private key file; the public key is PATH.pub."},
    "type": {"type": "str", "default": "rsa",
             "choices": ["rsa", "dsa", "rsa1", "ecdsa", "ed25519"],
             "help": "Key algorithm."},
    "size": {"type": "int",
             "help": "Bits: rsa >= 1024 (default 4096), dsa 1024, ecdsa 256/384/521; "
                     "ignored for ed25519."},
    "comment": {"type": "str", "help": "Comment of the key (changed without regenerating)."},
    "passphrase": {"type": "str", "no_log": True,
                   "help": "Encrypts a new key; opens an existing one."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the key pair should exist."},
    "force": {"type": "bool", "default": False,
              "help": "Regenerate even if the key exists (regenerate=always)."},
    "regenerate": {"type": "str", "default": "partial_idempotence",
                   "choices": ["never", "fail", "partial_idempotence", "full_idempotence",
                               "always"],
                   "help": "When an existing key may be replaced (see above)."},
    "backend": {"type": "str", "default": "auto", "choices": ["auto", "opensshbin"],
                "help": "Accepted for Ansible compatibility; ssh-keygen is always used."},
    "private_key_format": {"type": "str", "default": "auto", "choices": ["auto"],
                           "help": "Only auto: ssh-keygen's own format."},
    "mode": {"type": "raw", "help": "Mode of both files."},
    "owner": {"type": "str", "help": "Owner of both files."},
    "group": {"type": "str", "help": "Group of both files."},
}

_LIST = re.compile(r"^(\d+) (\S+) (.*) \(([A-Z0-9-]+)\)\s*$")


def key_size(key_type, size):
    """(size, None) or (None, Ansible's message) for the wanted type and size."""
    if key_type in ("rsa", "rsa1"):
        size = 4096 if size is None else size
        if size < 1024:
            return None, ("For RSA keys, the minimum size is 1024 bits and the default is "
                          "4096 bits. Attempting to use bit lengths under 1024 will cause "
                          "the module to fail.")
    elif key_type == "dsa":
        size = 1024 if size is None else size
        if size != 1024:
            return None, "DSA keys must be exactly 1024 bits as specified by FIPS 186-2."
    elif key_type == "ecdsa":
        size = 256 if size is None else size
        if size not in (256, 384, 521):
            return None, ("For ECDSA keys, size determines the key length by selecting from "
                          "one of three elliptic curve sizes: 256, 384 or 521 bits. "
                          "Attempting to use bit lengths other than these three values for "
                          "ECDSA keys will cause this module to fail.")
    else:
        size = 256
    return size, None


def parse_listing(text):
    """`ssh-keygen -l` output -> {"size", "fingerprint", "type"} or None."""
    for line in text.splitlines():
        match = _LIST.match(line.strip())
        if match:
            return {"size": int(match.group(1)), "fingerprint": match.group(2),
                    "type": match.group(4).lower()}
    return None


def parse_public(text):
    """'type data [comment]' -> (type, data, comment) or None."""
    parts = text.strip(" \r\n").split(" ", 2)
    if len(parts) < 2:
        return None
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def generate_argv(keygen, path, key_type, size, comment, passphrase):
    return [keygen, "-q", "-N", passphrase or "", "-b", str(size), "-t", key_type, "-f", path,
            "-C", comment or ""]


def derive_argv(keygen, path, passphrase):
    return [keygen, "-P", passphrase or "", "-y", "-f", path]


def comment_argv(keygen, path, comment, passphrase):
    return [keygen, "-q", "-P", passphrase or "", "-c", "-C", comment, "-f", path]


class Pair(object):
    """What is on disk now, read with ssh-keygen."""

    def __init__(self, m, keygen, path, passphrase):
        self.m, self.keygen, self.path, self.passphrase = m, keygen, path, passphrase
        self.exists = os.path.exists(path)
        self.info = self._info() if self.exists else None
        self.derived = None
        self.readable = False
        self.unprotected = False
        if self.info is not None:
            rc, out, _err = m.run(derive_argv(keygen, path, passphrase))
            self.readable = rc == 0
            self.derived = parse_public(out) if rc == 0 else None
            if passphrase:
                self.unprotected = m.run(derive_argv(keygen, path, ""))[0] == 0
        self.public = None
        pub = m.read_bytes(path + ".pub")
        if pub is not None:
            self.public = parse_public(pub.decode("utf-8", "replace"))

    def _info(self):
        # ssh-keygen -l reads PATH.pub when there is one, which may belong to another key:
        # a link without a .pub beside it makes it read the private key file itself.
        link = os.path.join(self.m.tmpdir, "key-%d" % os.getpid())
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(self.path), link)
        try:
            rc, out, _err = self.m.run([self.keygen, "-l", "-f", link])
        finally:
            os.unlink(link)
        return parse_listing(out) if rc == 0 else None


def main(m):
    p = m.params
    path = p["path"]
    regenerate = "always" if p["force"] else p["regenerate"]
    size, problem = key_size(p["type"], p["size"])
    if problem:
        m.fail(problem)
    base = os.path.dirname(path) or "."
    if not os.path.isdir(base):
        m.fail("The directory %s does not exist or the file is not a directory" % base,
               name=base)
    if os.path.isdir(path):
        m.fail("%s is a directory. Please specify a path to a file." % path)
    keygen = m.which("ssh-keygen")
    if keygen is None:
        m.fail("Cannot find the OpenSSH binary in the PATH (ssh-keygen; install openssh-client)")

    pub_path = path + ".pub"
    before = Pair(m, keygen, path, p["passphrase"])
    result = {"filename": path, "size": size, "type": p["type"], "changed": False}

    if p["state"] == "absent":
        gone = [f for f in (path, pub_path) if os.path.lexists(f)]
        # Like Ansible: the result describes the key that was there.
        result.update(fingerprint=before.info["fingerprint"] if before.info else "",
                      public_key="%s %s" % before.public[:2] if before.public else "",
                      comment=before.public[2] if before.public else "", changed=bool(gone),
                      msg="removed %s" % ", ".join(gone) if gone else "no key at %s" % path)
        if gone and not m.check_mode:
            for name in gone:
                os.remove(name)
        if m.diff_mode:
            result["diff"] = {"before": _view(before), "after": {}}
        return result

    usable = before.info is not None and before.readable and not before.unprotected
    if before.exists and regenerate in ("never", "fail", "partial_idempotence") and not usable:
        m.fail("Unable to read the key. The key is protected with a passphrase or broken. "
               "Will not proceed. To force regeneration, call the module with `generate` set "
               "to `full_idempotence` or `always`, or with `force=true`.")
    right_kind = (before.info is not None and before.info["size"] == size
                  and before.info["type"] == p["type"])
    if not before.exists or before.info is None:
        generate = True
    elif regenerate == "never":
        generate = False
    elif regenerate == "fail":
        if not right_kind:
            m.fail("Key has wrong type and/or size. Will not proceed. To force regeneration, "
                   "call the module with `generate` set to `partial_idempotence`, "
                   "`full_idempotence` or `always`, or with `force=true`.")
        generate = False
    elif regenerate in ("partial_idempotence", "full_idempotence"):
        generate = not (right_kind and usable)
    else:
        generate = True

    msgs = []
    if generate:
        result["changed"] = True
        msgs.append("generated a new %s key (%d bits)" % (p["type"], size)
                    if before.exists else "generated %s" % path)
        if not m.check_mode:
            _generate(m, keygen, p, size, path, pub_path)
    else:
        derived, public = before.derived, before.public
        pub_ok = (public is not None and derived is not None and public[:2] == derived[:2]
                  and (p["comment"] is None or public[2] == p["comment"]))
        if not pub_ok:
            result["changed"] = True
            msgs.append("rewrote %s" % pub_path)
            if not m.check_mode:
                _restore_public(m, keygen, p, path, pub_path, derived)

    for name, default in ((path, 0o600), (pub_path, 0o644)):
        if not os.path.exists(name):
            if m.check_mode and (p["mode"] or p["owner"] or p["group"]):
                result["changed"] = True
            continue
        changed, _old, _new = m.set_attributes(name, p["owner"], p["group"], p["mode"])
        if changed:
            result["changed"] = True
            if not generate:  # a new file's mode is part of "generated"
                msgs.append("ownership or mode of %s changed" % name)

    after = Pair(m, keygen, path, p["passphrase"]) if result["changed"] else before
    shown = after if after.info is not None else before
    public = shown.public
    result["fingerprint"] = shown.info["fingerprint"] if shown.info else ""
    result["public_key"] = "%s %s" % public[:2] if public else ""
    result["comment"] = public[2] if public else ""
    result["msg"] = "; ".join(msgs) or "key %s already %s %d" % (path, p["type"], size)
    if m.diff_mode:
        result["diff"] = {"before": _view(before), "after": _view(after)}
    return result


def _view(pair):
    """The diff's dict for one side: what Ansible shows (no secrets)."""
    out = {}
    if pair.info:
        out.update(size=pair.info["size"], type=pair.info["type"],
                   fingerprint=pair.info["fingerprint"], format="")
    if pair.public:
        out.update(comment=pair.public[2], public_key=pair.public[1])
    return out


def _generate(m, keygen, p, size, path, pub_path):
    """ssh-keygen into the agent's private temp folder, then both files into place."""
    temp = os.path.join(m.tmpdir, "new-" + os.path.basename(path))
    for name in (temp, temp + ".pub"):
        if os.path.lexists(name):
            os.remove(name)
    _keygen(m, generate_argv(keygen, temp, p["type"], size, p["comment"], p["passphrase"]),
            "generate a %s key" % p["type"])
    for source, dest, mode in ((temp, path, 0o600), (temp + ".pub", pub_path, 0o644)):
        with open(source, "rb") as handle:
            data = handle.read()
        os.remove(source)
        m.atomic_write(dest, data, mode=None if os.path.exists(dest) else mode)


def _restore_public(m, keygen, p, path, pub_path, derived):
    mode = None if os.path.exists(pub_path) else 0o644
    m.atomic_write(pub_path, ("%s %s\n" % derived[:2]).encode("ascii"), mode=mode)
    if p["comment"]:
        _keygen(m, comment_argv(keygen, path, p["comment"], p["passphrase"]),
                "set the comment of %s" % path)


def _keygen(m, argv, what):
    """Run ssh-keygen; a failure names what failed but never the argv (the passphrase
    is on it)."""
    rc, out, err = m.run(argv)
    if rc != 0:
        lines = (err.strip() or out.strip()).splitlines()
        m.fail("ssh-keygen could not %s (rc=%d)%s" % (what, rc,
                                                     ": " + lines[-1] if lines else ""))
