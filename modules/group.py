"""Manage a local group with groupadd, groupmod and groupdel.

Only the gid can differ on an existing group; creating honours `system` and `gid`.
"""

import grp

ARGS = {
    "name": {"type": "str", "required": True, "help": "The group's name."},
    "gid": {"type": "int", "help": "The numeric group id."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the group should exist."},
    "system": {"type": "bool", "default": False,
               "help": "Create a system group (a gid from the system range)."},
    "non_unique": {"type": "bool", "default": False,
                   "help": "Allow a gid that another group already has (needs gid)."},
    "force": {"type": "bool", "default": False,
              "help": "With state=absent: remove it even if it is a user's primary group."},
    "local": {"type": "bool", "default": False,
              "help": "Accepted for Ansible compatibility; the shadow tools are always local."},
}


def main(m):
    p = m.params
    name = p["name"]
    try:
        cur = grp.getgrnam(name)
    except KeyError:
        cur = None
    result = {"name": name, "state": p["state"], "system": p["system"]}
    verb = "would " if m.check_mode else ""
    if p["state"] == "absent":
        if cur is None:
            result.update(changed=False, msg="group %s already absent" % name)
            return result
        result.update(changed=True, msg="%sremove group %s" % (verb, name), gid=cur.gr_gid,
                      diff=m.text_diff("group %s gid %d\n" % (name, cur.gr_gid), "",
                                       "group %s" % name))
        if not m.check_mode:
            argv = [m.which("groupdel", required=True)] + (["-f"] if p["force"] else [])
            m.run(argv + [name], check=True)
        return result

    if cur is None:
        argv = [m.which("groupadd", required=True)]
        if p.get("gid") is not None:
            argv += ["-g", str(p["gid"])] + (["-o"] if p["non_unique"] else [])
        argv += ["-r"] if p["system"] else []
        result.update(changed=True, msg="%screate group %s" % (verb, name),
                      diff=m.text_diff("", "group %s gid %s\n" % (name, p.get("gid") or "(new)"),
                                       "group %s" % name))
        if not m.check_mode:
            m.run(argv + [name], check=True)
            result["gid"] = grp.getgrnam(name).gr_gid
        return result

    result["gid"] = cur.gr_gid
    if p.get("gid") is None or p["gid"] == cur.gr_gid:
        result.update(changed=False, msg="group %s already present" % name)
        return result
    result.update(changed=True, msg="%schange gid of %s from %d to %d" % (
        verb, name, cur.gr_gid, p["gid"]),
        diff=m.text_diff("group %s gid %d\n" % (name, cur.gr_gid),
                         "group %s gid %d\n" % (name, p["gid"]), "group %s" % name))
    if not m.check_mode:
        argv = [m.which("groupmod", required=True), "-g", str(p["gid"])]
        m.run(argv + (["-o"] if p["non_unique"] else []) + [name], check=True)
        result["gid"] = p["gid"]
    return result
