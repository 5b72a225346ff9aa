"""Set the SELinux mode and policy: /etc/selinux/config, the running mode, the kernel line.

Same arguments and result as ansible.posix.selinux, without the libselinux Python
bindings: the running mode comes from `getenforce` (or selinuxfs's `enforce` file)
and is changed with `setenforce`, the policy and mode in the config file are edited
line by line (every `SELINUX=`/`SELINUXTYPE=` line is rewritten, a missing one is
appended), and with `update_kernel_param` `grubby` adds or removes `selinux=0` on
every boot entry. Disabling a running SELinux takes a reboot: the module sets
permissive now, says so in a warning and returns `reboot_required: true`; enabling
it on a host where it is off also needs a reboot. As in Ansible (whose libselinux
reads the policy type from /etc/selinux/config), the "running" policy is the one the
system config names.

`_selinuxfs` and `_selinux_dir` point the module at a fake selinuxfs and
/etc/selinux in tests; with them set, no command is run and the mode is read from
and written to `<_selinuxfs>/enforce`.
"""

import os
import re

ARGS = {
    "policy": {"type": "str",
               "help": "Policy name (e.g. targeted); required unless state=disabled."},
    "state": {"type": "str", "required": True,
              "choices": ["disabled", "enforcing", "permissive"], "help": "The SELinux mode."},
    "configfile": {"type": "path", "default": "/etc/selinux/config", "aliases": ["conf", "file"],
                   "help": "The SELinux config file."},
    "update_kernel_param": {"type": "bool", "default": False,
                            "help": "Also add/remove selinux=0 on the kernel command line "
                                    "(grubby)."},
    "_selinuxfs": {"type": "path", "default": "/sys/fs/selinux",
                   "help": "Where selinuxfs is mounted (tests point it elsewhere)."},
    "_selinux_dir": {"type": "path", "default": "/etc/selinux",
                     "help": "Where the policies and the system config are (tests)."},
}

SELINUXFS = "/sys/fs/selinux"


def config_value(text, key):
    """The value of the first `KEY=` line (Ansible reads the first one too)."""
    for line in text.splitlines():
        if re.match(r"^%s=" % key, line):
            return line.split("=", 1)[1].strip()
    return None


def set_config_value(text, key, value):
    """Every `KEY=...` line becomes KEY=value; appended when there is none. Each line
    ends with a newline afterwards, as Ansible writes the file."""
    out, found = [], False
    for line in text.splitlines():
        if re.match(r"^%s=" % key, line):
            found = True
            line = "%s=%s" % (key, value)
        out.append(line + "\n")
    if not found:
        out.append("%s=%s\n" % (key, value))
    return "".join(out)


def parse_getenforce(text):
    """`getenforce` prints Enforcing, Permissive or Disabled (libselinux's getenforce.c)."""
    word = text.strip().lower()
    return word if word in ("enforcing", "permissive", "disabled") else None


def kernel_enabled(grubby_info):
    """From `grubby --info=ALL`: True when no entry has selinux=0, False when all have
    it, None when entries disagree (then Ansible updates them all)."""
    with_zero = without = 0
    for line in grubby_info.splitlines():
        match = re.match(r'^args="(.*)"$', line)
        if match is None:
            continue
        if "selinux=0" in match.group(1).split(" "):
            with_zero += 1
        else:
            without += 1
    if with_zero and without:
        return None
    return with_zero == 0


def grubby_argv(grubby, enable):
    return [grubby, "--update-kernel=ALL", "--remove-args" if enable else "--args", "selinux=0"]


def setenforce_argv(setenforce, state):
    return [setenforce, "1" if state == "enforcing" else "0"]


class Runtime(object):
    """The running mode, through getenforce/setenforce or a test's selinuxfs."""

    def __init__(self, m, selinuxfs):
        self.m = m
        self.fs = selinuxfs
        self.real = selinuxfs == SELINUXFS

    def state(self):
        getenforce = self.m.which("getenforce") if self.real else None
        if getenforce:
            rc, out, _err = self.m.run([getenforce])
            found = parse_getenforce(out) if rc == 0 else None
            if found:
                return found
        enforce = self.m.read_bytes(os.path.join(self.fs, "enforce"))
        if enforce is None:
            return "disabled"
        return "enforcing" if enforce.strip() == b"1" else "permissive"

    def set(self, state):
        setenforce = self.m.which("setenforce") if self.real else None
        if setenforce:
            self.m.run(setenforce_argv(setenforce, state), check=True)
        else:
            with open(os.path.join(self.fs, "enforce"), "w") as handle:
                handle.write("1" if state == "enforcing" else "0")


def main(m):
    p = m.params
    configfile, state, policy = p["configfile"], p["state"], p["policy"]
    runtime = Runtime(m, p["_selinuxfs"])
    runtime_state = runtime.state()
    runtime_enabled = runtime_state != "disabled"
    system = (m.read_bytes(os.path.join(p["_selinux_dir"], "config")) or b"").decode(
        "utf-8", "replace")
    runtime_policy = config_value(system, "SELINUXTYPE")

    if not os.path.isfile(configfile):
        m.fail("Unable to find file %s" % configfile,
               details="Please install SELinux-policy package, if this package is not "
                       "installed previously.")
    text = (m.read_bytes(configfile) or b"").decode("utf-8", "replace")
    config_policy = config_value(text, "SELINUXTYPE")
    config_state = config_value(text, "SELINUX")

    grubby, kernel_on = None, None
    if p["update_kernel_param"]:
        grubby = m.which("grubby")
        if grubby is None:
            m.fail("'grubby' command not found on host",
                   details="In order to update the kernel command line enabled/disabled "
                           "setting, the grubby package needs to be present on the system.")
        rc, out, _err = m.run([grubby, "--info=ALL"])
        if rc != 0:
            m.fail("unable to run grubby")
        kernel_on = kernel_enabled(out)

    if state != "disabled":
        if not policy:
            m.fail("Policy is required if state is not 'disabled'")
    elif not policy:
        policy = config_policy

    changed, msgs, reboot_required = False, [], False
    new_text = text
    if policy != runtime_policy:
        msgs.append("Running SELinux policy changed from '%s' to '%s'" % (runtime_policy,
                                                                          policy))
        changed = True
    if policy != config_policy:
        if not os.path.exists(os.path.join(p["_selinux_dir"], policy, "policy")):
            m.fail("Policy %s does not exist in %s/" % (policy, p["_selinux_dir"]))
        new_text = set_config_value(new_text, "SELINUXTYPE", policy)
        msgs.append("SELinux policy configuration in '%s' changed from '%s' to '%s'"
                    % (configfile, config_policy, policy))
        changed = True

    if state != runtime_state:
        if runtime_enabled:
            if state == "disabled":
                if runtime_state != "permissive":
                    if not m.check_mode:
                        runtime.set("permissive")
                    m.warn("SELinux state temporarily changed from '%s' to 'permissive'. State "
                           "change will take effect next reboot." % runtime_state)
                    changed = True
                else:
                    m.warn("SELinux state change will take effect next reboot")
                reboot_required = True
            else:
                if not m.check_mode:
                    runtime.set(state)
                msgs.append("SELinux state changed from '%s' to '%s'" % (runtime_state, state))
                changed = True
        else:
            m.warn("Reboot is required to set SELinux state to '%s'" % state)
            reboot_required = True

    if state != config_state:
        new_text = set_config_value(new_text, "SELINUX", state)
        msgs.append("Config SELinux state changed from '%s' to '%s'" % (config_state, state))
        changed = True

    want_kernel = state in ("enforcing", "permissive")
    if p["update_kernel_param"] and kernel_on != want_kernel:
        if not m.check_mode:
            m.run(grubby_argv(grubby, want_kernel), check=True)
        states = ("disabled", "enabled") if want_kernel else ("enabled", "disabled")
        if kernel_on is None:
            states = ("<inconsistent>", states[1])
        msgs.append("Kernel SELinux state changed from '%s' to '%s'" % states)
        changed = True

    result = {"changed": changed, "msg": ", ".join(msgs), "configfile": configfile,
              "policy": policy, "state": state, "reboot_required": reboot_required}
    if new_text != text:
        diff = m.text_diff(text, new_text, configfile)
        if diff:
            result["diff"] = diff
        if not m.check_mode:
            m.atomic_write(configfile, new_text.encode("utf-8"))
    if not msgs and not changed:
        result["msg"] = "SELinux already %s%s" % (state, " (%s)" % policy if policy else "")
    return result
