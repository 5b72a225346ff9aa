"""pyengine target agent: runs module batches sent by the controller over stdin/stdout.

Stdlib only, Python 3.7+. The controller starts it once per host over one exec
channel with a tiny bootstrap (`python3 -c ...`) that reads this source from stdin,
so nothing is written to the target's disk. Protocol (see session.py): frames of a
4-byte big-endian length + UTF-8 JSON, one request at a time:

  {"op": "hello", "libs": {"runtime": LIB, "facts": LIB}}  -> {"op": "facts", "facts": {...}}
      (LIB: the source, or {"zlib": base64 of the zlib-compressed source})
  {"op": "batch", "modules": {NAME: {"sha": H, "source": SRC}}, "tasks": [ITEM, ...]}
      -> {"op": "result", "id": ID, "result": {...}, "duration_s": F}  one per task, streamed
      A batch may also carry "libs" (loaded as in hello: `ansible_run` comes with the first
      Ansible module), "files": {SHA: base64(zlib(source))} (helper files, each sent once
      per run) and modules that name their helpers: {"sha", "source", "kind": "native" |
      "ansible", "files": {RELPATH: SHA}, "entry": DOTTED, "meta": {...}}. Native helpers
      (modules/module_utils/) are imported from memory by runtime's finder; an Ansible
      module runs in a forked child under Ansible's module contract (ansible_run.py).
      -> {"op": "done", "ran": N, "stopped": bool}
  {"op": "exit"}  -> {"op": "bye"}, then the agent exits

Module sources are cached by (name, sha) for the life of the agent. A batch stops
at the first failed task whose item does not say `ignore_errors`.

No files: the agent itself lives in memory, and each task's private temp folder
(`m.tmpdir`, made by runtime.run_module) exists only while that task runs and is removed
on every way out of it: return, exception, and SIGHUP/SIGTERM (turned into SystemExit
here so `finally` blocks run). Between tasks the agent owns nothing on disk, so even a
SIGKILL then leaves nothing behind. When the channel drops (sshd sends no SIGHUP without a
pty) the running task is left to finish, so no change is cut in half; writing its result
then fails (EPIPE) and the agent exits without starting the next task. EOF on stdin
between requests ends the agent too.
"""

import base64
import json
import linecache
import os
import signal
import struct
import sys
import time
import traceback
import types
import zlib

PROTOCOL = 1
MAGIC = b"\n#PYENGINE-AGENT-1#\n"  # session.AGENT_MAGIC
_HEADER = struct.Struct(">I")
_MAX_FRAME = 256 * 1024 * 1024


class Agent(object):
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.libs = {}
        self.files = {}  # sha -> helper file source, for the life of the agent
        self.code = {}  # (name, sha) -> loaded module, or the error text
        self.facts = {}

    # -- framing -------------------------------------------------------------------------
    def recv(self):
        header = self._read_exactly(_HEADER.size)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > _MAX_FRAME:
            raise ValueError("frame too large: %d bytes" % size)
        body = self._read_exactly(size)
        if body is None:
            return None
        return json.loads(body.decode("utf-8"))

    def _read_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.reader.read(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def send(self, message):
        body = json.dumps(message, default=_json_default, separators=(",", ":")).encode("utf-8")
        self.writer.write(_HEADER.pack(len(body)) + body)
        self.writer.flush()

    # -- requests ------------------------------------------------------------------------
    def serve(self):
        while True:
            message = self.recv()
            if message is None:
                return  # EOF: the controller went away
            op = message.get("op")
            if op == "exit":
                self.send({"op": "bye"})
                return
            handler = {"hello": self.hello, "batch": self.batch}.get(op)
            if handler is None:
                self.send({"op": "error", "msg": "unknown request %r" % (op,)})
                continue
            try:
                handler(message)
            except (BrokenPipeError, ConnectionError, EOFError):
                raise
            except Exception as err:  # report an agent bug to the controller, keep serving
                self.send({"op": "error", "msg": "agent: %s: %s" % (type(err).__name__, err),
                           "traceback": traceback.format_exc()})

    def _load_lib(self, name, source):
        module = types.ModuleType("pyengine_" + name)
        module.__file__ = "<pyengine %s>" % name
        sys.modules["pyengine_" + name] = module
        exec(compile(source, "pyengine/agent/%s.py" % name, "exec"), module.__dict__)
        return module

    def hello(self, message):
        self.load_libs(message)
        facts = {}
        if "facts" in self.libs:
            started = time.time()
            facts = self.libs["facts"].gather()
            facts["pyengine_facts_gather_s"] = round(time.time() - started, 4)
        self.facts = facts
        self.send({"op": "facts", "facts": facts, "protocol": PROTOCOL, "pid": os.getpid()})

    def load_libs(self, message):
        for name, lib in sorted((message.get("libs") or {}).items()):
            source = lib if isinstance(lib, str) else \
                zlib.decompress(base64.b64decode(lib["zlib"])).decode("utf-8")
            self.libs[name] = self._load_lib(name, source)
            if name == "runtime":
                self.libs[name].STREAM_FETCHER = self.fetch_stream

    def fetch_stream(self, ref, out):
        """Ask the controller for a streamed file mid-task and write its chunks to `out`
        as they come: a big `copy` never sits whole in memory on either side."""
        self.send({"op": "need", "ref": ref})
        while True:
            message = self.recv()
            if message is None:
                raise EOFError("the controller went away during a streamed file")
            if message.get("op") != "chunk":
                raise ValueError("expected a chunk of %s, got %r" % (ref, message.get("op")))
            if message.get("error"):
                raise IOError("controller: %s" % message["error"])
            if message.get("data"):
                out.write(base64.b64decode(message["data"]))
            if message.get("end"):
                return

    def batch(self, message):
        self.load_libs(message)
        for sha, packed in (message.get("files") or {}).items():
            self.files[sha] = zlib.decompress(base64.b64decode(packed)).decode("utf-8")
        for name, spec in message.get("modules", {}).items():
            key = (name, spec["sha"])
            if key not in self.code:
                self.code[key] = self.load_spec(name, spec)
        ran = 0
        stopped = False
        failing = None  # the task (of several loop items) that has failed
        for item in message.get("tasks", []):
            if failing is not None and item.get("task") != failing:
                break  # as in Ansible: a loop's items all run, then its failure stops
            started = time.time()
            result = self.run_task(item)
            ran += 1
            self.send({"op": "result", "id": item.get("id"), "result": result,
                       "duration_s": round(time.time() - started, 6)})
            if result.get("failed") and not item.get("ignore_errors"):
                stopped = True
                if item.get("task") is None:
                    break
                failing = item.get("task")
        self.send({"op": "done", "ran": ran, "stopped": stopped})

    def run_task(self, item):
        name = item.get("module") or "?"
        entry = self.code.get((name, item.get("sha")))
        if entry is None:
            return {"failed": True, "changed": False,
                    "msg": "module %r was not sent to the agent" % (name,)}
        runtime = self.libs.get("runtime")
        if runtime is None:
            return {"failed": True, "changed": False, "msg": "agent runtime not loaded"}
        if isinstance(entry, str):  # the source did not compile or load
            return {"failed": True, "changed": False, "msg": entry}
        if isinstance(entry, _AnsibleModule):
            return self.run_ansible(entry, item)
        try:
            result = runtime.run_module(
                entry, item.get("args") or {}, check_mode=bool(item.get("check_mode")),
                diff_mode=bool(item.get("diff")), facts=self.facts, tmpdir=None,
                environment=item.get("environment") or None, name=name)
        except SystemExit as err:
            if _terminating:
                raise  # our own signal handler: the agent is being stopped
            # A module calling sys.exit() must not take the agent (and the batch) down.
            return {"failed": True, "changed": False,
                    "msg": "module %s called sys.exit(%s)" % (name, err.code),
                    "module_stderr": _short_traceback(traceback.format_exc())}
        if result.get("exception") and "module_stderr" not in result:
            result["module_stderr"] = _short_traceback(result["exception"])
        return result

    def load_spec(self, name, spec):
        """A module as sent: its helper files resolved from the store, then loaded."""
        files = {}
        for rel, sha in (spec.get("files") or {}).items():
            if sha not in self.files:
                return "module %s: helper file %s was not sent to the agent" % (name, rel)
            files[rel] = self.files[sha]
        if spec.get("kind") == "ansible":
            return _AnsibleModule(files, spec.get("entry") or "", spec.get("meta") or {})
        if files and "runtime" in self.libs:
            self.libs["runtime"].add_module_utils(files)
        return self.load_module(name, spec["source"])

    def run_ansible(self, entry, item):
        """A bridged Ansible module: run in a forked child by ansible_run.py."""
        runner = self.libs.get("ansible_run")
        if runner is None:
            return {"failed": True, "changed": False, "msg": "agent: ansible_run not loaded"}
        result = runner.run_ansible_module(
            entry.files, entry.entry, item.get("args") or {}, entry.meta,
            check_mode=bool(item.get("check_mode")), diff_mode=bool(item.get("diff")),
            no_log=bool(item.get("no_log")), environment=item.get("environment") or None,
            close_fds=(self.writer.fileno(),))
        return result

    def load_module(self, name, source):
        """Compile and execute a module file once; its `main` serves every later task."""
        namespace = {"__name__": "pyengine_module_" + name}
        filename = "modules/%s.py" % name
        # Tracebacks show the module's source lines although no file exists here.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), namespace)
        except BaseException as err:  # noqa: B036 - report, never kill the agent
            if isinstance(err, KeyboardInterrupt):
                raise
            return "module %s cannot be loaded: %s: %s\n%s" % (
                name, type(err).__name__, err, _short_traceback(traceback.format_exc()))
        if not callable(namespace.get("main")):
            return "module %s defines no main(m)" % name
        return _Loaded(namespace)


class _Loaded(object):
    """A loaded module file: `run_module` takes any object with `main` (and reads ARGS)."""

    def __init__(self, namespace):
        self.main = namespace["main"]
        self.ARGS = namespace.get("ARGS")


class _AnsibleModule(object):
    """A packed Ansible module: its files ({relpath: source}), entry point and metadata."""

    def __init__(self, files, entry, meta):
        self.files = files
        self.entry = entry
        self.meta = meta


def _short_traceback(text, limit=12):
    lines = text.rstrip().splitlines()
    # Drop the agent's and runtime's frames: the reader wants the module's own lines.
    for index, line in enumerate(lines):
        if 'File "modules/' in line:
            lines = [lines[0]] + lines[index:]
            break
    return "\n".join(lines[-limit * 2:])


def _json_default(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


_terminating = False


def _on_signal(signum, frame):
    global _terminating
    _terminating = True
    raise SystemExit(128 + signum)


def main():
    # Keep the protocol stream private: anything else writing to fd 1 (a module's
    # print, a child process) lands on stderr instead of corrupting a frame.
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    writer = os.fdopen(proto_fd, "wb")
    # The bootstrap may already have buffered the first request: keep its reader.
    reader = sys.stdin.buffer
    sys.stdin = open(os.devnull)
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    agent = Agent(reader, writer)
    try:
        # Marks where the protocol starts: shell startup files may have printed before us.
        writer.write(MAGIC)
        writer.flush()
        agent.serve()
    except (BrokenPipeError, ConnectionError, EOFError):
        pass
    finally:
        for signum in (signal.SIGHUP, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        if "ansible_run" in agent.libs:
            agent.libs["ansible_run"].stop_zygote()  # the bridge's warm process
        writer.close()


if __name__ == "__main__":
    main()
