"""The Celery side: the app, its one task, the queues, a broker check before submitting.

Settings that make a killed worker harmless: `acks_late` (a job's message is
acknowledged only when the job is over, so a worker killed mid-job leaves it on the
broker), `reject_on_worker_lost` and a prefetch of one (a worker holds only the job it
runs). With Redis the message of a dead worker comes back after the broker's
visibility timeout ($PYENGINE_VISIBILITY_TIMEOUT, default one hour); that can also
deliver a job twice while its first worker still runs it, which is why the worker
first claims the job's hosts in the history (a lease per host) and a finished job is
never run again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pyengine.errors import PyengineError

TASK_NAME = "pyengine.run_job"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


class JobBusy(Exception):
    """Another live worker holds one of the job's hosts: try again later."""

    def __init__(self, holder: str, wait: float = 5.0) -> None:
        super().__init__(holder)
        self.holder = holder
        self.wait = wait


def broker_url(given: str | None) -> str:
    """--broker, else $PYENGINE_BROKER, else a Redis on this machine."""
    return given or os.environ.get("PYENGINE_BROKER") or DEFAULT_BROKER


def _celery() -> Any:
    try:
        import celery
    except ImportError:
        raise PyengineError("submit and worker need Celery: pip install "
                            "'pyengine[distributed]'") from None
    return celery


def make_app(broker: str, runner: Callable[[dict[str, Any]], dict[str, Any]] | None = None
             ) -> Any:
    """The Celery app; the result backend is the broker (a waiting submit reads the
    reports there). `runner` is what a worker does with a job (the submit side has none)."""
    celery = _celery()
    app = celery.Celery("pyengine", broker=broker, backend=broker)
    visibility = float(os.environ.get("PYENGINE_VISIBILITY_TIMEOUT", "3600"))
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, task_default_queue="pyengine",
        # Look for a dead worker's messages every few seconds (kombu's default scans
        # only every 100 s): a ZRANGE on the broker, cheap.
        broker_transport_options={"visibility_timeout": visibility,
                                  "unacked_restore_interval": max(1, min(10, int(visibility / 4))),
                                  "unacked_restore_throttle": 1},
        result_backend_transport_options={"visibility_timeout": visibility},
        result_expires=7 * 24 * 3600, broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        task_track_started=True,
    )

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(task: Any, job: dict[str, Any]) -> dict[str, Any]:
        if runner is None:
            raise RuntimeError("this process submits jobs; it does not run them")
        try:
            return runner(job)
        except JobBusy as busy:
            # The same message again later, on the same queue: the hosts free up when the
            # other worker finishes or its lease runs out.
            raise task.retry(countdown=busy.wait, max_retries=None,
                             queue=job.get("queue")) from None

    return app


def check_broker(app: Any, timeout: float = 5.0) -> None:
    """Connect to the broker once; a broker that is down is one line, not a retry loop."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as err:  # kombu raises the transport's own errors
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PyengineError(f"broker {_display(app.conf.broker_url)} is not reachable: "
                            f"{reason}") from None


def _display(url: str) -> str:
    from pyengine.history.dialect import display

    return display(url)
