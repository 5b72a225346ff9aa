"""Load or unload a kernel module, and make that survive a reboot (community.general.modprobe).

`state` acts on the running kernel with modprobe (check mode asks `modprobe -n`,
so a module that does not exist fails in check mode too, as in Ansible).
`persistent: present` writes /etc/modules-load.d/NAME.conf and, for `params`,
/etc/modprobe.d/NAME.conf (`options NAME key=value` lines; matching options lines
in other files there are commented out); `persistent: absent` comments out the
module's lines in modules-load.d and its options lines in modprobe.d. Unlike
Ansible's module the edited files keep their own line breaks (Ansible's rewrite
inserts blank lines), and a host without /proc/modules or
/lib/modules/RELEASE/modules.builtin (a container, a kernel without modules) counts
the module as not loaded instead of failing; loading it then fails as in Ansible.
"""

import os
import re
import shlex

ARGS = {
    "name": {"type": "str", "required": True, "help": "The kernel module."},
    "state": {"type": "str", "default": "present", "choices": ["absent", "present"],
              "help": "Loaded or not, now."},
    "params": {"type": "str", "default": "",
               "help": "Module parameters, 'key=value key2=value2'."},
    "persistent": {"type": "str", "default": "disabled",
                   "choices": ["disabled", "present", "absent"],
                   "help": "present: load at boot (with params); absent: not at boot; "
                           "disabled: leave boot configuration alone."},
    "_root": {"type": "path", "default": "/",
              "help": "Where /etc, /proc and /lib are (tests point it elsewhere)."},
}


class Modprobe(object):
    def __init__(self, m):
        self.m = m
        p = m.params
        self.name = p["name"]
        self.params = p["params"] or ""
        root = p["_root"] or "/"
        self.load_dir = os.path.join(root, "etc/modules-load.d")
        self.options_dir = os.path.join(root, "etc/modprobe.d")
        self.proc_modules = os.path.join(root, "proc/modules")
        self.builtin = os.path.join(root, "lib/modules", os.uname().release, "modules.builtin")
        name = re.escape(self.name)
        self.re_module = re.compile(r"^ *%s *(?:[#;].*)?\n?\Z" % name)
        self.re_options = re.compile(r"^options %s (\w+=\S+) *(?:[#;].*)?\n?\Z" % name)
        self.changed = False
        self.edits = {}  # path -> (old text or None, new text)
        self.binary = None

    # -- the running kernel -----------------------------------------------------------
    def loaded(self):
        wanted = self.name.replace("-", "_") + " "
        try:
            with open(self.proc_modules) as handle:
                if any(line.startswith(wanted) for line in handle):
                    return True
        except (IOError, OSError) as exc:
            # A kernel built without module support has no /proc/modules: nothing is loaded.
            if not os.path.exists(self.proc_modules):
                return False
            self.m.fail("cannot read %s: %s" % (self.proc_modules, exc.strerror or exc),
                        **self.result())
        try:
            with open(self.builtin) as handle:
                suffix = "/" + self.name + ".ko"
                return any(line.rstrip().endswith(suffix) for line in handle)
        except (IOError, OSError):
            return False

    def _modprobe(self):
        if self.binary is None:
            self.binary = self.m.which("modprobe", required=True)
        return self.binary

    def load(self):
        argv = [self._modprobe()] + (["-n"] if self.m.check_mode else [])
        argv += [self.name] + shlex.split(self.params)
        rc, out, err = self.m.run(argv)
        if rc != 0:
            self.m.fail(err.strip() or "modprobe %s failed (rc %d)" % (self.name, rc), rc=rc,
                        stdout=out, stderr=err, **self.result())
        if self.m.check_mode or self.loaded():
            self.changed = True
        else:
            rc, out, err = self.m.run([self._modprobe(), "-n", "--first-time", self.name]
                                      + shlex.split(self.params))
            if rc != 0:
                self.m.warn(err.strip())

    def unload(self):
        argv = [self._modprobe(), "-r", self.name] + (["-n"] if self.m.check_mode else [])
        rc, out, err = self.m.run(argv)
        if rc != 0:
            self.m.fail(err.strip() or "modprobe -r %s failed (rc %d)" % (self.name, rc),
                        rc=rc, stdout=out, stderr=err, **self.result())
        self.changed = True

    # -- boot configuration -----------------------------------------------------------
    def _files(self, folder):
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                      if os.path.isfile(os.path.join(folder, n)))

    def _text(self, path):
        if path in self.edits:
            return self.edits[path][1]
        raw = self.m.read_bytes(path)
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    def _set(self, path, new):
        old = self.edits[path][0] if path in self.edits else self._text(path)
        if old != new:
            self.edits[path] = (old, new)

    def persistently_loaded(self):
        return any(self.re_module.match(line) for path in self._files(self.load_dir)
                   for line in (self._text(path) or "").splitlines(True))

    def permanent_params(self):
        found = set()
        for path in self._files(self.options_dir):
            for line in (self._text(path) or "").splitlines(True):
                match = self.re_options.match(line)
                if match:
                    found.add(match.group(1))
        return found

    def params_set(self):
        return set(self.params.split()) == self.permanent_params()

    def _comment_out(self, folder, pattern):
        for path in self._files(folder):
            lines = (self._text(path) or "").splitlines(True)
            new = ["#" + line if pattern.match(line) else line for line in lines]
            if new != lines:
                self._set(path, "".join(new))

    def make_persistent(self):
        if not self.persistently_loaded():
            self._set(os.path.join(self.load_dir, self.name + ".conf"), self.name + "\n")
            self.changed = True
        if not self.params_set():
            self._comment_out(self.options_dir, self.re_options)
            lines = ["options %s %s" % (self.name, param) for param in self.params.split()]
            self._set(os.path.join(self.options_dir, self.name + ".conf"),
                      "\n".join(lines) + "\n")
            self.changed = True

    def remove_persistent(self):
        if self.persistently_loaded():
            self._comment_out(self.load_dir, self.re_module)
            self.changed = True
        if self.permanent_params():
            self._comment_out(self.options_dir, self.re_options)
            self.changed = True

    def write(self):
        for path, (_old, new) in sorted(self.edits.items()):
            folder = os.path.dirname(path)
            if not os.path.isdir(folder):
                os.makedirs(folder)
            self.m.atomic_write(path, new.encode("utf-8", "surrogateescape"),
                                mode=None if _old is not None else 0o644)

    def result(self):
        return {"changed": self.changed, "name": self.name, "params": self.params,
                "state": self.m.params["state"]}


def main(m):
    p = m.params
    mp = Modprobe(m)
    msgs = []
    if p["state"] == "present" and not mp.loaded():
        mp.load()
        msgs.append("loaded" if mp.changed else "modprobe ran but %s is not loaded" % mp.name)
    elif p["state"] == "absent" and mp.loaded():
        mp.unload()
        msgs.append("unloaded")
    before = mp.changed
    if p["persistent"] == "present" and not (mp.persistently_loaded() and mp.params_set()):
        mp.make_persistent()
    elif p["persistent"] == "absent" and (mp.persistently_loaded() or mp.permanent_params()):
        mp.remove_persistent()
    if mp.edits or mp.changed != before:
        msgs.append("boot configuration %s" % ("updated" if p["persistent"] == "present"
                                               else "disabled"))
    result = mp.result()
    diffs = [m.text_diff(old, new, path) for path, (old, new) in sorted(mp.edits.items())]
    diffs = [d for d in diffs if d]
    if diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    if not m.check_mode:
        mp.write()
    result["msg"] = "; ".join(msgs) or "%s already %s" % (
        mp.name, "loaded" if p["state"] == "present" else "not loaded")
    return result
