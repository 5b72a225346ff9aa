"""`pyengine submit` and `pyengine worker` with real parts on loopback.

The test starts its own Redis (broker and result backend) and PostgreSQL (the shared
history) as processes on 127.0.0.1 (tests/lab/loopback_services.py), and real workers
as subprocesses: one per site (`--site east`, `--site west`) and one general. Two sites
of lab hosts plus one host without a site are submitted split by site. Then a worker is
killed with SIGKILL in the middle of a job and another one finishes it: every host runs
the playbook to completion exactly once, and the history says the job was taken over.
A job delivered twice at once runs once: the second copy waits on the host leases and
then finds the job done.
Each run marks the hosts with its own token under /root, checked through the lab (not
SSH), and removed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from loopback_services import free_port, missing_binaries, postgres_server, redis_server

pytestmark = pytest.mark.lab

MARKS = "/root/pyengine-dist-runs"
SITES = {"h1": "east", "h2": "east", "h3": "west"}  # h4 has no site: the general queue
CLIENTS = {"h1": "acme", "h2": "acme", "h3": "globex", "h4": "globex"}

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: started
      shell: echo "{{ token }} start" >> {marks}
    - name: work
      command: sleep {{ pause | default(1) }}
    - name: finished
      shell: echo "{{ token }} done" >> {marks}
"""


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    why = missing_binaries()
    if why:
        pytest.skip(f"{why} not installed (scripts/bootstrap.sh installs them)")
    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the 'distributed' extra is not installed (pip install .[distributed])")
    with redis_server() as broker, postgres_server() as history:
        yield broker, history


@pytest.fixture
def project(lab: Any, tmp_path: Path) -> Path:
    """A checkout: the playbook and an inventory of the lab hosts in two clients, with
    h1/h2 at site east, h3 at site west and h4 without a site."""
    lab_inventory = yaml.safe_load(Path(lab.inventory_path).read_text())
    group = lab_inventory["all"]["children"]["lab"]
    children: dict[str, Any] = {}
    for host, values in group["hosts"].items():
        if host not in CLIENTS:
            continue
        entry = dict(values)
        if host in SITES:
            entry["pyengine_site"] = SITES[host]
        children.setdefault(CLIENTS[host], {"hosts": {}})["hosts"][host] = entry
    inventory = {"all": {"vars": group["vars"], "children": children}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "site.yml").write_text(PLAYBOOK.replace("{marks}", MARKS))
    return tmp_path


def _env(broker: str, history: str) -> dict[str, str]:
    return {**os.environ, "PYENGINE_BROKER": broker, "PYENGINE_HISTORY_DB": history,
            # A dead worker's job comes back after this many seconds (Redis transport).
            "PYENGINE_VISIBILITY_TIMEOUT": "8", "PYTHONUNBUFFERED": "1"}


class Workers:
    """Worker subprocesses, stopped by PID."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project, self.env = project, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, site: str | None = None) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "pyengine", "worker", "--name", name,
                "--lease-ttl", "6"]
        if site:
            argv += ["--site", site]
        log = open(self.project / f"worker-{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(argv, cwd=self.project, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.project.glob("worker-*.log")))


@pytest.fixture
def workers(project: Path, services: tuple[str, str]) -> Iterator[Workers]:
    pool = Workers(project, _env(*services))
    yield pool
    pool.stop()


def _submit(project: Path, env: dict[str, str], *args: str,
            background: bool = False) -> Any:
    argv = [sys.executable, "-m", "pyengine", "submit", "site.yml", "-i", "inventory.yml",
            *args]
    if background:
        return subprocess.Popen(argv, cwd=project, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                          timeout=120)


def _marks(lab: Any, host: str, token: str) -> list[str]:
    out = lab.host(host).exec(["sh", "-c", f"cat {MARKS} 2>/dev/null || true"]).stdout
    text = out.decode() if isinstance(out, bytes) else out
    return [line.split()[1] for line in text.splitlines() if line.startswith(token + " ")]


def _clean(lab: Any) -> None:
    for host in CLIENTS:
        lab.host(host).exec(["rm", "-f", MARKS])


def _history(url: str) -> Any:
    from pyengine.history.db import HistoryDB

    return HistoryDB(url)


def test_submission_split_by_site_runs_each_site_on_its_own_worker(
        lab: Any, project: Path, services: tuple[str, str], workers: Workers) -> None:
    broker, history = services
    env = _env(broker, history)
    for name, site in (("east", "east"), ("west", "west"), ("general", None)):
        workers.start(name, site)
    token = uuid.uuid4().hex[:8]
    try:
        done = _submit(project, env, "--split", "site", "--wait", "--report-json",
                       "combined.json", "-e", f"token={token}")
        assert done.returncode == 0, done.stdout + done.stderr + workers.logs()
        combined = json.loads((project / "combined.json").read_text())
        assert sorted(combined["hosts"]) == ["h1", "h2", "h3", "h4"]
        assert combined["exit_code"] == 0
        by_label = {job["label"]: job for job in combined["jobs"]}
        assert {label: job["worker"] for label, job in by_label.items()} == \
            {"east": "east", "west": "west", "general": "general"}
        for host in CLIENTS:
            assert f"{host} " in done.stdout  # the combined recap names every host
            assert _marks(lab, host, token) == ["start", "done"]
        # One history: every host's run is in the shared database, the client recorded.
        with _history(history) as db:
            run_ids = {job["run_id"] for job in combined["jobs"]}
            hosts = {r["host"]: r for rid in run_ids for r in db.host_results(rid)}
            assert sorted(hosts) == ["h1", "h2", "h3", "h4"]
            assert hosts["h3"]["extra"].get("client") == "globex"
            jobs = db.jobs(combined["submission"])
            assert [j["state"] for j in jobs] == ["done"] * 3
        shown = subprocess.run([sys.executable, "-m", "pyengine", "history", "--host", "h4",
                                "--history-db", history], capture_output=True, text=True,
                               timeout=60)
        assert shown.returncode == 0 and "site.yml" in shown.stdout, shown.stderr
        page = subprocess.run([sys.executable, "-m", "pyengine", "report", "--history-db",
                               history, "-o", str(project / "report.html")],
                              capture_output=True, text=True, timeout=60)
        assert page.returncode == 0 and "(4 hosts)" in page.stdout, page.stdout + page.stderr
    finally:
        _clean(lab)


def test_a_job_of_a_killed_worker_is_finished_by_another_once_per_host(
        lab: Any, project: Path, services: tuple[str, str], workers: Workers) -> None:
    broker, history = services
    env = _env(broker, history)
    first = workers.start("first")
    token = uuid.uuid4().hex[:8]
    try:
        submit = _submit(project, env, "--split", "10", "--wait", "--report-json",
                         "combined.json", "-e", f"token={token}", "-e", "pause=6",
                         background=True)
        deadline = time.monotonic() + 60
        while not all(_marks(lab, h, token) for h in CLIENTS):
            assert time.monotonic() < deadline, workers.logs()
            time.sleep(0.5)
        os.kill(first.pid, signal.SIGKILL)  # mid-job: the hosts are in `sleep`
        first.wait()
        workers.start("second")
        out, err = submit.communicate(timeout=100)
        assert submit.returncode == 0, out + err + workers.logs()
        combined = json.loads((project / "combined.json").read_text())
        (job,) = combined["jobs"]
        assert job["worker"] == "second" and "taken over from first" in job["note"]
        for host in CLIENTS:
            # started twice (the killed run and the new one), finished once
            assert _marks(lab, host, token) == ["start", "start", "done"]
        with _history(history) as db:
            (row,) = db.jobs(combined["submission"])
            assert (row["state"], row["attempts"], row["worker"]) == ("done", 2, "second")
            assert "taken over from first" in row["note"]
            assert sorted(r["host"] for r in db.host_results(row["run_id"])) == \
                ["h1", "h2", "h3", "h4"]
        jobs = subprocess.run([sys.executable, "-m", "pyengine", "history", "--jobs",
                               combined["submission"], "--history-db", history],
                              capture_output=True, text=True, timeout=60)
        assert "taken over from first" in jobs.stdout and "second" in jobs.stdout, jobs.stderr
    finally:
        _clean(lab)


def test_a_job_delivered_twice_runs_once_while_the_other_copy_waits_for_its_hosts(
        lab: Any, project: Path, services: tuple[str, str], workers: Workers) -> None:
    # What Redis does when a job outlives the visibility timeout: a second copy of the
    # message goes to another worker while the first still runs it.
    from pyengine.distributed.jobs import Job
    from pyengine.distributed.queue import TASK_NAME, make_app

    broker, history = services
    workers.start("one")
    workers.start("two")
    token = uuid.uuid4().hex[:8]
    job = Job(id=f"twice-{token}", submission=f"twice-{token}", playbook="site.yml",
              inventories=["inventory.yml"], hosts=sorted(CLIENTS), label="all",
              extra_vars=[f"token={token}", "pause=3"])
    app = make_app(broker)
    try:
        copies = [app.send_task(TASK_NAME, args=[job.to_dict()], queue=job.queue,
                                task_id=f"{job.id}-copy{n}") for n in (1, 2)]
        results = [copy.get(timeout=90) for copy in copies]
        assert sorted(r["note"] == "already done" for r in results) == [False, True], results
        assert {r["run_id"] for r in results} == {results[0]["run_id"]}
        assert {r["worker"] for r in results} == {"one", "two"}
        for host in CLIENTS:
            assert _marks(lab, host, token) == ["start", "done"]
        with _history(history) as db:
            (row,) = db.jobs(job.submission)
            assert (row["state"], row["attempts"]) == ("done", 1)
    finally:
        _clean(lab)


def test_submit_with_the_broker_down_is_one_line(project: Path,
                                                 services: tuple[str, str]) -> None:
    env = _env(f"redis://127.0.0.1:{free_port()}/0", services[1])
    started = time.monotonic()
    done = _submit(project, env, "--split", "site")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not reachable" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and time.monotonic() - started < 30
