"""Manage the Uncomplicated Firewall: on/off, default policies, logging and rules.

Same arguments as community.general.ufw, and it drives the same `ufw` command, in
the same order (state, default, rule, logging). It reads before it acts: the
firewall's settings come from ufw's own files (/etc/ufw/ufw.conf, /etc/default/ufw)
and `ufw status`, and a rule is first run with `ufw --dry-run`, whose output is
the rules file ufw would write; only when that differs from the current rules
(the `### tuple ###` lines ufw keeps) is the real command run. So a rule that is
there already, an enabled firewall and a policy already set change nothing. Where
Ansible's module judges from `ufw status verbose` alone we read ufw's files, so while
the firewall is off a new default policy is reported as changed (Ansible: not
changed) and a logging level already set as not changed (Ansible: changed, every run),
and a new routed policy is a change even while the kernel does not forward (Ansible's
status line then says "disabled (routed)" either way and it reports no change). The
firewall itself ends up the same: tests/lab/test_modules_hardening_b.py runs the same
tasks with ansible-playbook on a second host and compares.
`reloaded` and `reset` always run and always report a change, as in Ansible.

Returns `commands` (what ran, or would run in check mode) and, like Ansible, `msg`
with `ufw status verbose` afterwards; the diff shows settings and rules.
"""

import re
import shlex

ARGS = {
    "state": {"type": "str", "choices": ["enabled", "disabled", "reloaded", "reset"],
              "help": "enabled, disabled, reloaded or reset (to installation defaults)."},
    "default": {"type": "str", "choices": ["allow", "deny", "reject"], "aliases": ["policy"],
                "help": "Default policy for `direction` (incoming when not given)."},
    "logging": {"type": "str", "choices": ["on", "off", "low", "medium", "high", "full"],
                "help": "Logging level."},
    "direction": {"type": "str", "choices": ["in", "incoming", "out", "outgoing", "routed"],
                  "help": "Of a rule (in/out) or of a default policy (incoming, outgoing, "
                          "routed)."},
    "delete": {"type": "bool", "default": False, "help": "Delete the rule."},
    "route": {"type": "bool", "default": False, "help": "A rule for routed packets."},
    "insert": {"type": "int", "help": "Insert the rule as number NUM (from 1)."},
    "insert_relative_to": {"type": "str", "default": "zero",
                           "choices": ["zero", "first-ipv4", "last-ipv4", "first-ipv6",
                                       "last-ipv6"],
                           "help": "What `insert` counts from."},
    "rule": {"type": "str", "choices": ["allow", "deny", "limit", "reject"],
             "help": "Add (or with delete remove) a rule with this action."},
    "interface": {"type": "str", "aliases": ["if"],
                  "help": "Interface of the rule (needs direction)."},
    "interface_in": {"type": "str", "aliases": ["if_in"], "help": "Input interface."},
    "interface_out": {"type": "str", "aliases": ["if_out"], "help": "Output interface."},
    "log": {"type": "bool", "default": False, "help": "Log new connections of the rule."},
    "from_ip": {"type": "str", "default": "any", "aliases": ["from", "src"],
                "help": "Source address."},
    "from_port": {"type": "str", "help": "Source port."},
    "to_ip": {"type": "str", "default": "any", "aliases": ["dest", "to"],
              "help": "Destination address."},
    "to_port": {"type": "str", "aliases": ["port"], "help": "Destination port."},
    "proto": {"type": "str", "aliases": ["protocol"],
              "choices": ["any", "tcp", "udp", "ipv6", "esp", "ah", "gre", "igmp", "vrrp"],
              "help": "Protocol."},
    "name": {"type": "str", "aliases": ["app"],
             "help": "Application profile (/etc/ufw/applications.d)."},
    "comment": {"type": "str", "help": "Comment of the rule (ufw >= 0.35)."},
}
MUTUALLY_EXCLUSIVE = [["name", "proto", "logging"], ["direction", "interface_in"],
                      ["direction", "interface_out"]]
REQUIRED_ONE_OF = [["state", "default", "rule", "logging"]]

CONF = "/etc/ufw/ufw.conf"
DEFAULTS = "/etc/default/ufw"
RULE_FILES = [("/etc/ufw/user.rules", "/etc/ufw/user6.rules"),
              ("/lib/ufw/user.rules", "/lib/ufw/user6.rules"),
              ("/var/lib/ufw/user.rules", "/var/lib/ufw/user6.rules")]
POLICY_KEYS = {"incoming": "DEFAULT_INPUT_POLICY", "outgoing": "DEFAULT_OUTPUT_POLICY",
               "routed": "DEFAULT_FORWARD_POLICY"}
POLICY_WORDS = {"DROP": "deny", "ACCEPT": "allow", "REJECT": "reject"}
ENV = {"LANG": "C", "LC_ALL": "C"}


def parse_shell_vars(text):
    """KEY=value lines of ufw.conf / /etc/default/ufw (quotes removed)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip().strip("\"'")
    return out


def tuples(text):
    """The `### tuple ###` lines of a rules file (ufw's own record of each rule)."""
    return [line.strip() for line in text.splitlines() if line.startswith("### tuple ###")]


def dry_run_tuples(output):
    """`ufw --dry-run RULE` output -> {"v4": [...], "v6": [...]} for the families it
    would rewrite (none when ufw says it skips the rule)."""
    out = {}
    block = None
    for line in output.splitlines():
        if line.startswith("*filter"):
            block = []
        elif block is not None and line.startswith("COMMIT"):
            text = "\n".join(block)
            family = "v6" if re.search(r"(^|\s|:)ufw6-", text, re.M) else "v4"
            out[family] = tuples(text)
            block = None
        elif block is not None:
            block.append(line)
    return out


def status_active(text):
    return re.search(r"^Status: active", text, re.M) is not None


def numbered_rules(text):
    """`ufw status numbered` -> [(number, is_v6)]."""
    out = []
    for line in text.splitlines():
        match = re.match(r"^\[ *(\d+)\] ", line)
        if match:
            out.append((int(match.group(1)), "(v6)" in line))
    return out


def insert_position(insert, relative_to, rules):
    """Ansible's reading of insert + insert_relative_to; None = append (past the end)."""
    if relative_to == "zero":
        return insert
    last = max([n for n, _v6 in rules]) if rules else 0
    v4 = [n for n, v6 in rules if not v6]
    has_v6 = any(v6 for _n, v6 in rules)
    if relative_to == "first-ipv4":
        base = 1
    elif relative_to == "last-ipv4":
        base = max(v4) if v4 else 1
    elif relative_to == "first-ipv6":
        base = max(v4) + 1 if v4 else 1
    else:
        base = last if has_v6 else last + 1
    position = insert + base
    return None if position > last else position


def rule_argv(ufw, p, insert_at=None, comment_ok=True, dry_run=False):
    """ufw [--dry-run] [route] [delete | insert N] ACTION [dir] [on IF] [log] [from A
    [port P]] [to B [port P]] [proto X] [app NAME] [comment C], as a list."""
    argv = [ufw]
    if dry_run:
        argv.append("--dry-run")
    if p["route"]:
        argv.append("route")
    if p["delete"]:
        argv.append("delete")
    elif insert_at is not None:
        argv += ["insert", str(insert_at)]
    argv.append(p["rule"])
    if p["direction"]:
        argv.append(p["direction"])
    if p["interface"]:
        argv += ["on", p["interface"]]
    if p["interface_in"]:
        argv += ["in", "on", p["interface_in"]]
    if p["interface_out"]:
        argv += ["out", "on", p["interface_out"]]
    if p["log"]:
        argv.append("log")
    for key, word in (("from_ip", "from"), ("from_port", "port"), ("to_ip", "to"),
                      ("to_port", "port"), ("proto", "proto"), ("name", "app")):
        if p[key]:
            argv += [word, p[key]]
    if p["comment"] and comment_ok:
        argv += ["comment", p["comment"]]
    return argv


def logging_needed(wanted, level):
    """Whether `ufw logging WANTED` changes LOGLEVEL `level` (off/low/medium/high/full)."""
    if wanted == "off":
        return level != "off"
    if wanted == "on":
        return level == "off"
    return level != wanted


def version_of(text):
    match = re.search(r"^ufw\D*(\d+)\.(\d+)", text.strip(), re.M)
    return (int(match.group(1)), int(match.group(2))) if match else None


class Firewall(object):
    """What ufw's files and `ufw status` say now."""

    def __init__(self, m, ufw):
        self.m, self.ufw = m, ufw
        self.reload()

    def reload(self):
        m = self.m
        self.conf = parse_shell_vars((m.read_bytes(CONF) or b"").decode("utf-8", "replace"))
        self.defaults = parse_shell_vars(
            (m.read_bytes(DEFAULTS) or b"").decode("utf-8", "replace"))
        self.status = m.run([self.ufw, "status", "verbose"], env=ENV, check=True)[1]
        self.rules = {"v4": [], "v6": []}
        for v4, v6 in RULE_FILES:
            data4, data6 = m.read_bytes(v4), m.read_bytes(v6)
            if data4 is not None or data6 is not None:
                self.rules = {"v4": tuples((data4 or b"").decode("utf-8", "replace")),
                              "v6": tuples((data6 or b"").decode("utf-8", "replace"))}
                break

    @property
    def active(self):
        return status_active(self.status)

    def policy(self, direction):
        raw = self.defaults.get(POLICY_KEYS[direction], "")
        return POLICY_WORDS.get(raw.upper(), raw.lower())

    @property
    def loglevel(self):
        return self.conf.get("LOGLEVEL", "off").lower() or "off"

    def summary(self, planned=None):
        """Settings and rules as text for the diff; `planned` overrides what check mode
        would change (enabled, incoming/outgoing/routed, logging, rules)."""
        planned = planned or {}
        rules = planned.get("rules", self.rules)
        enabled = planned.get("enabled", self.active)
        lines = ["enabled: %s" % ("yes" if enabled else "no")]
        for direction in ("incoming", "outgoing", "routed"):
            lines.append("default %s: %s" % (direction,
                                             planned.get(direction, self.policy(direction))))
        lines.append("logging: %s" % planned.get("logging", self.loglevel))
        lines += [t[len("### tuple ### "):] for t in rules["v4"] + rules["v6"]]
        return "\n".join(lines) + "\n"


def main(m):
    p = m.params
    if p["interface"] and not p["direction"]:
        m.fail("missing parameter(s) required by 'interface': direction")
    ufw = m.which("ufw")
    if ufw is None:
        m.fail("cannot find ufw on this host (install the ufw package)")
    fw = Firewall(m, ufw)
    before = fw.summary()
    planned = {}  # what check mode would change, for its diff
    commands, changed = [], False

    def run(argv):
        commands.append(" ".join(shlex.quote(a) for a in argv))
        if not m.check_mode:
            rc, out, err = m.run(argv, env=ENV)
            if rc != 0:
                m.fail((err or out).strip() or "%s failed" % argv, commands=commands, rc=rc)
            fw.reload()

    if p["state"]:
        state = p["state"]
        if state == "enabled" and not (fw.active and fw.conf.get("ENABLED") == "yes"):
            changed, planned["enabled"] = True, True
            run([ufw, "--force", "enable"])
        elif state == "disabled" and (fw.active or fw.conf.get("ENABLED") == "yes"):
            changed, planned["enabled"] = True, False
            run([ufw, "disable"])
        elif state == "reloaded":
            changed = True
            run([ufw, "reload"])
        elif state == "reset":
            changed = True
            planned.update(enabled=False, rules={"v4": [], "v6": []})
            run([ufw, "--force", "reset"])

    if p["default"]:
        if p["direction"] not in ("incoming", "outgoing", "routed", None):
            m.fail('For default, direction must be one of "outgoing", "incoming" and "routed", '
                   'or direction must not be specified.')
        direction = p["direction"] or "incoming"
        if fw.policy(direction) != p["default"]:
            changed, planned[direction] = True, p["default"]
            run([ufw, "default", p["default"]] + ([p["direction"]] if p["direction"] else []))

    if p["rule"]:
        if p["direction"] not in ("in", "out", None):
            m.fail('For rules, direction must be one of "in" and "out", or direction must not '
                   'be specified.')
        if not p["route"] and p["interface_in"] and p["interface_out"]:
            m.fail("Only route rules can combine interface_in and interface_out")
        insert_at = None
        if p["insert"] is not None and not p["delete"]:
            numbered = ""
            if p["insert_relative_to"] != "zero":
                numbered = m.run([ufw, "status", "numbered"], env=ENV)[1]
            insert_at = insert_position(p["insert"], p["insert_relative_to"],
                                        numbered_rules(numbered))
        comment_ok = True
        if p["comment"]:
            version = version_of(m.run([ufw, "--version"], env=ENV)[1])
            comment_ok = version is None or version >= (0, 35)
            if not comment_ok:
                m.warn("ufw older than 0.35 has no rule comments; comment ignored")
        dry_argv = rule_argv(ufw, p, insert_at, comment_ok, dry_run=True)
        dry = m.run(dry_argv, env=ENV)
        if dry[0] != 0:
            m.fail((dry[2] or dry[1]).strip() or "ufw --dry-run failed",
                   commands=commands + [" ".join(shlex.quote(a) for a in dry_argv)])
        would = dry_run_tuples(dry[1])
        if any(fw.rules[family] != rules for family, rules in would.items()):
            changed = True
            planned["rules"] = dict(fw.rules, **would)
            run(rule_argv(ufw, p, insert_at, comment_ok))

    if p["logging"] and logging_needed(p["logging"], fw.loglevel):
        changed = True
        planned["logging"] = "low" if p["logging"] == "on" else p["logging"]
        run([ufw, "logging", p["logging"]])

    result = {"changed": changed, "commands": commands}
    if m.check_mode:
        result["msg"] = ("would run: " + "; ".join(commands)) if commands else \
            "ufw already as asked"
        after = fw.summary(planned)
    else:
        result["msg"] = fw.status.rstrip()
        after = fw.summary()
    if changed:
        diff = m.text_diff(before, after, "ufw")
        if diff:
            result["diff"] = diff
    return result
