"""Read a file from the host and return its content base64-encoded.

For small files (configuration, keys): the whole content travels back in the
result. Use `fetch` to bring larger files to the controller.
"""

import base64
import os

ARGS = {
    "src": {"type": "path", "required": True, "aliases": ["path"],
            "help": "The file to read."},
}


def main(m):
    src = m.params["src"]
    if os.path.isdir(src):
        m.fail("source is a directory and must be a file: %s" % src, source=src)
    if not os.path.exists(src):
        m.fail("file not found: %s" % src, source=src)
    if not os.access(src, os.R_OK):
        m.fail("file is not readable: %s" % src, source=src)
    data = m.read_bytes(src)
    return {
        "changed": False,
        "content": base64.b64encode(data or b"").decode("ascii"),
        "encoding": "base64",
        "source": src,
        "msg": "read %d bytes" % len(data or b""),
    }
