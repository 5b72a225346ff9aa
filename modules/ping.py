"""Answer "pong": proves the agent runs modules on the host.

Like Ansible's ping it is not ICMP: it checks that the host can be reached,
Python runs there and the agent answers. `data: crash` raises on purpose so a
playbook can test its failure handling.
"""

ARGS = {
    "data": {"type": "str", "default": "pong",
             "help": "What to return in `ping`; 'crash' makes the module raise."},
}


def main(m):
    data = m.params["data"]
    if data == "crash":
        raise RuntimeError("boom (ping was asked to crash)")
    return {"changed": False, "ping": data, "msg": "pong" if data == "pong" else data}
