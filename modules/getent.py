"""Read a name-service database (passwd, group, shadow, hosts, services, ...) into facts.

Runs `getent DATABASE [KEY]` and sets `ansible_facts.getent_DATABASE` to a dict of
first field -> list of the other fields, as Ansible's getent does: passwd, shadow,
group and gshadow split on ':', other databases on whitespace unless `split` says
otherwise; a key seen on several lines gets a list of records. Read-only: never
changed, runs in check mode as in a real run.
"""

ARGS = {
    "database": {"type": "str", "required": True,
                 "help": "The database: passwd, group, shadow, hosts, services, ..."},
    "key": {"type": "str", "help": "Look up only this entry."},
    "service": {"type": "str", "help": "Use this NSS service (getent -s)."},
    "split": {"type": "str",
              "help": "Field separator; default ':' for passwd/shadow/group/gshadow, "
                      "whitespace for the others."},
    "fail_key": {"type": "bool", "default": True,
                 "help": "Fail when the key is not found (else the key maps to null)."},
}

_COLON_DATABASES = ("passwd", "shadow", "group", "gshadow")


def parse(output, split):
    """{first field: [other fields]}; a key on several lines maps to a list of those lists."""
    table = {}
    repeated = {}
    for line in output.splitlines():
        fields = line.split(split)
        name, rest = fields[0], fields[1:]
        if name not in table:
            table[name] = rest
            continue
        if name not in repeated:
            table[name] = [table[name]]
            repeated[name] = True
        table[name].append(rest)
    return table


def main(m):
    p = m.params
    database = p["database"]
    argv = [m.which("getent", required=True), database]
    if p["key"] is not None:
        argv.append(p["key"])
    if p["service"] is not None:
        argv.extend(["-s", p["service"]])
    split = p["split"]
    if split is None and database in _COLON_DATABASES:
        split = ":"
    rc, out, err = m.run(argv)
    fact = "getent_%s" % database
    if rc == 0:
        table = parse(out, split)
        return {"changed": False, "ansible_facts": {fact: table},
                "msg": "%d %s entr%s" % (len(table), database, "y" if len(table) == 1 else "ies")}
    if rc == 2:
        msg = "One or more supplied key could not be found in the database."
        if not p["fail_key"]:
            return {"changed": False, "ansible_facts": {fact: {p["key"]: None}}, "msg": msg}
    elif rc == 1:
        msg = "Missing arguments, or database unknown."
    elif rc == 3:
        msg = "Enumeration not supported on this database."
    else:
        msg = "getent failed (rc %d): %s" % (rc, (err or out).strip())
    m.fail(msg, rc=rc)
