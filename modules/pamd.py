"""Edit one rule of a PAM service file in /etc/pam.d: change, insert, remove, or its arguments.

Same arguments and result as community.general.pamd. A rule is found by its type,
control and module path (all three must match); `state` says what to do with every
rule found: `updated` (new_type/new_control/new_module_path/module_arguments),
`before`/`after` (insert the new rule unless the neighbouring rule already is it),
`args_present`/`args_absent` (add or set `key=value`, remove arguments) or `absent`.

The parser follows pam.conf(5) as Linux-PAM reads it: `#` starts a comment anywhere
on a line, a trailing backslash continues a rule on the next line, bracketed controls
(`[success=1 default=ignore]`) and bracketed arguments (`[query=...]`) are one token.

When the file changes it is written as Ansible's module writes it, so both tools
leave the same file: every rule re-formatted as `type` padded to 11 columns, control,
path and arguments separated by single spaces; comments, blank lines and `@include`
lines kept; and a "# Updated by Ansible - <time>" line as the second line (replaced
on later changes). Where Ansible loses content we do not (see
tests/unit/test_hardening_b_differential.py): comments and blank lines between a rule
and the one inserted before/after it are kept; a trailing `# comment` stays a comment
(Ansible takes its words as arguments and appends new arguments after it); several
arguments added at once keep the order given (Ansible's order is a set's); a line
that is not a PAM rule fails with its line number (Ansible crashes).
"""

import datetime
import os
import re

TYPES = ["account", "-account", "auth", "-auth", "password", "-password", "session",
         "-session"]

ARGS = {
    "name": {"type": "str", "required": True,
             "help": "The PAM service file, e.g. system-auth or sshd."},
    "type": {"type": "str", "required": True,
             "choices": ["account", "-account", "auth", "-auth", "password", "-password",
                         "session", "-session"],
             "help": "Type of the rule to find."},
    "control": {"type": "str", "required": True,
                "help": "Control of the rule to find (a word or [value=action ...])."},
    "module_path": {"type": "str", "required": True,
                    "help": "Module path of the rule to find, e.g. pam_unix.so."},
    "new_type": {"type": "str",
                 "choices": ["account", "-account", "auth", "-auth", "password", "-password",
                             "session", "-session"],
                 "help": "Type of the new or updated rule."},
    "new_control": {"type": "str", "help": "Control of the new or updated rule."},
    "new_module_path": {"type": "str", "help": "Module path of the new or updated rule."},
    "module_arguments": {"type": "list", "elements": "str",
                         "help": "updated: the rule's arguments; args_present: added or set "
                                 "(key=value); args_absent: removed; before/after: the new "
                                 "rule's arguments."},
    "state": {"type": "str", "default": "updated",
              "choices": ["absent", "before", "after", "args_absent", "args_present",
                          "updated"],
              "help": "What to do with every rule that matches."},
    "path": {"type": "path", "default": "/etc/pam.d", "help": "Folder of the service files."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the file before changing it."},
}
REQUIRED_IF = [["state", "args_present", ["module_arguments"]],
               ["state", "args_absent", ["module_arguments"]],
               ["state", "before", ["new_control", "new_type", "new_module_path"]],
               ["state", "after", ["new_control", "new_type", "new_module_path"]]]

SIMPLE_CONTROLS = ("required", "requisite", "sufficient", "optional", "include", "substack",
                   "definitive")
CONTROL_VALUES = ("success", "open_err", "symbol_err", "service_err", "system_err", "buf_err",
                  "perm_denied", "auth_err", "cred_insufficient", "authinfo_unavail",
                  "user_unknown", "maxtries", "new_authtok_reqd", "acct_expired", "session_err",
                  "cred_unavail", "cred_expired", "cred_err", "no_module_data", "conv_err",
                  "authtok_err", "authtok_recover_err", "authtok_lock_busy",
                  "authtok_disable_aging", "try_again", "ignore", "abort", "authtok_expired",
                  "module_unknown", "bad_item", "conv_again", "incomplete", "default")
CONTROL_ACTIONS = ("ignore", "bad", "die", "ok", "done", "reset")
MARK = "# Updated by Ansible"

# One token: a bracketed group ([...], "\]" escapes a bracket inside) or a word.
_TOKEN = re.compile(r"\[(?:\\.|[^\]\\])*\]?|\S+")


def tokens(text):
    """Split arguments as PAM does: whitespace separates, [brackets] hold spaces."""
    return _TOKEN.findall(text)


def parse_args(values):
    """module_arguments (a list of strings, each maybe several arguments) -> tokens."""
    if values is None:
        return None
    out = []
    for value in values:
        out.extend(tokens(value or ""))
    return out


def normalize_control(control):
    """'[success=1  default = ignore]' -> '[success=1 default=ignore]'; words stay."""
    control = control.strip()
    if not control.startswith("["):
        return control
    inner = control.strip("[]")
    inner = re.sub(r"\s*=\s*", "=", inner)
    return "[" + " ".join(inner.split()) + "]"


class Rule(object):
    """One PAM rule; `comment` is a trailing '# ...' (kept as a comment)."""

    def __init__(self, rtype, control, path, args=None, comment=None):
        self.type = rtype
        self.control = normalize_control(control)
        self.path = path
        self.args = list(args or [])
        self.comment = comment

    def matches(self, rtype, control, path):
        return (self.type == rtype and self.control == normalize_control(control)
                and self.path == path)

    def render(self):
        text = "{0: <11}{1} {2}".format(self.type, self.control, self.path)
        if self.args:
            text += " " + " ".join(self.args)
        if self.comment:
            text += " " + " ".join(self.comment.split())
        return text

    def problem(self):
        """None when valid, else Ansible's wording of what is wrong."""
        if self.type not in TYPES:
            return "Rule type, %s, is not valid in rule %s" % (self.type, self.render())
        if not self.control.startswith("["):
            if self.control not in SIMPLE_CONTROLS:
                return "Rule control, %s, is not valid in rule %s" % (self.control,
                                                                       self.render())
            return None
        for pair in self.control[1:-1].split():
            value, _sep, action = pair.partition("=")
            if value not in CONTROL_VALUES:
                return "Rule control value, %s, is not valid in rule %s" % (value,
                                                                            self.render())
            if action not in CONTROL_ACTIONS and not action.isdigit():
                return "Rule control action, %s, is not valid in rule %s" % (action,
                                                                             self.render())
        return None


def parse_rule(text):
    """A Rule from one logical line (continuations joined), or None if it is not one."""
    body, sep, comment = text.partition("#")
    parts = tokens(body)
    if len(parts) < 3:
        return None
    return Rule(parts[0], parts[1], parts[2], parts[3:], (sep + comment).rstrip() or None)


def parse_service(content):
    """Lines of a service file: Rule objects, or strings for comments/blank/@include.
    Raises ValueError naming the first line that is neither."""
    out = []
    physical = content.splitlines()
    i = 0
    while i < len(physical):
        line, number = physical[i], i + 1
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("@include"):
            out.append(line)
            continue
        logical = line
        # A backslash at the end continues the rule on the next line (pam.conf(5)).
        while logical.rstrip().endswith("\\") and "#" not in logical and i < len(physical):
            logical = logical.rstrip()[:-1] + " " + physical[i]
            i += 1
        rule = parse_rule(logical)
        if rule is None:
            raise ValueError("line %d is not a PAM rule (type control module [args]): %s"
                             % (number, line))
        out.append(rule)
    return out


def render_service(lines, now=None):
    """The file as Ansible writes it, with its "# Updated by Ansible" line."""
    mark = "%s - %s" % (MARK, (now or datetime.datetime.now()).isoformat())
    text = [line.render() if isinstance(line, Rule) else line for line in lines]
    if len(text) <= 1:
        text[0:0] = ["", mark]
    elif text[1].startswith(MARK):
        text[1] = mark
    else:
        text.insert(1, mark)
    return "\n".join(text) + "\n"


def _rules(lines):
    return [line for line in lines if isinstance(line, Rule)]


def _neighbour(lines, index, step):
    """The next line from `index` in direction `step` that is not a comment or blank
    (an @include counts as a neighbour, as in Ansible)."""
    j = index + step
    while 0 <= j < len(lines):
        line = lines[j]
        if isinstance(line, Rule) or line.strip().startswith("@include"):
            return line
        j += step
    return None


def update(lines, p):
    new_args = parse_args(p["module_arguments"])
    changes = 0
    for rule in _rules(lines):
        if not rule.matches(p["type"], p["control"], p["module_path"]):
            continue
        changed = False
        if p["new_type"] and rule.type != p["new_type"]:
            rule.type, changed = p["new_type"], True
        if p["new_control"] and rule.control != normalize_control(p["new_control"]):
            rule.control, changed = normalize_control(p["new_control"]), True
        if p["new_module_path"] and rule.path != p["new_module_path"]:
            rule.path, changed = p["new_module_path"], True
        if new_args is not None and rule.args != new_args:
            rule.args, changed = list(new_args), True
        changes += changed
    return changes


def insert(lines, p, where):
    """state before/after: a new rule next to every matching rule unless it is there."""
    step = -1 if where == "before" else 1
    found = [r for r in _rules(lines) if r.matches(p["type"], p["control"], p["module_path"])]
    changes = 0
    for rule in found:
        index = next(i for i, line in enumerate(lines) if line is rule)
        near = _neighbour(lines, index, step)
        if isinstance(near, Rule) and near.matches(p["new_type"], p["new_control"],
                                                   p["new_module_path"]):
            continue
        new = Rule(p["new_type"], p["new_control"], p["new_module_path"],
                   parse_args(p["module_arguments"]) or [])
        lines.insert(index if where == "before" else index + 1, new)
        changes += 1
    return changes


def args_present(lines, p):
    wanted = parse_args(p["module_arguments"])
    changes = 0
    for rule in _rules(lines):
        if not rule.matches(p["type"], p["control"], p["module_path"]):
            continue
        current_simple = set(a for a in rule.args if "=" not in a and not a.startswith("["))
        current_kv = {}
        for pos, arg in enumerate(rule.args):
            if "=" in arg and not arg.startswith("["):
                current_kv[arg.split("=", 1)[0]] = pos
        simple_new, kv_new = [], []
        for arg in wanted:
            if arg.startswith("["):
                continue
            if "=" in arg:
                key = arg.split("=", 1)[0]
                if key not in current_kv and arg not in kv_new:
                    kv_new.append(arg)
            elif arg not in current_simple and arg not in simple_new:
                simple_new.append(arg)
        changed = bool(simple_new or kv_new)
        rule.args.extend(simple_new + kv_new)
        for arg in wanted:
            key = arg.split("=", 1)[0]
            if "=" in arg and key in current_kv and rule.args[current_kv[key]] != arg:
                rule.args[current_kv[key]] = arg
                changed = True
        changes += changed
    return changes


def args_absent(lines, p):
    unwanted = set(parse_args(p["module_arguments"]))
    changes = 0
    for rule in _rules(lines):
        if rule.matches(p["type"], p["control"], p["module_path"]) and unwanted & set(rule.args):
            rule.args = [a for a in rule.args if a not in unwanted]
            changes += 1
    return changes


def remove(lines, p):
    keep = [line for line in lines if not (isinstance(line, Rule) and line.matches(
        p["type"], p["control"], p["module_path"]))]
    changes = len(lines) - len(keep)
    lines[:] = keep
    return changes


def apply(lines, p):
    """Change `lines` in place as `state` says; returns how many rules changed."""
    state = p["state"]
    if state == "updated":
        return update(lines, p)
    if state in ("before", "after"):
        return insert(lines, p, state)
    if state == "args_present":
        return args_present(lines, p)
    if state == "args_absent":
        return args_absent(lines, p)
    return remove(lines, p)


def main(m):
    p = m.params
    fname = os.path.join(p["path"], p["name"])
    if p["state"] == "args_present" and any(
            a.startswith("[") for a in parse_args(p["module_arguments"]) or []):
        m.fail("Unable to process bracketed '[' complex arguments with 'args_present'. "
               "Please use 'updated'.")
    try:
        with open(fname) as handle:
            before = handle.read()
    except (IOError, OSError) as exc:
        m.fail("Unable to open/read PAM module file %s with error %s." % (fname, exc))
    try:
        lines = parse_service(before)
    except ValueError as exc:
        m.fail("%s: %s" % (fname, exc))
    changes = apply(lines, p)
    for rule in _rules(lines):
        problem = rule.problem()
        if problem:
            m.fail(problem)
    result = {"changed": changes > 0, "change_count": changes, "backupdest": "",
              "msg": "%d rule(s) changed" % changes if changes else
              "no rule to change (%s %s %s)" % (p["type"], p["control"], p["module_path"])}
    if not changes:
        return result
    after = render_service(lines)
    diff = m.text_diff(before, after, fname)
    if diff:
        result["diff"] = diff
    if not m.check_mode:
        out = m.atomic_write(os.path.realpath(fname), after.encode("utf-8"),
                             backup=p["backup"]) or {}
        result["backupdest"] = out.get("backup_file", "")
    return result
