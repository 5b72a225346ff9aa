"""The `run` options for what a run leaves behind: reports, history, lock, alerts, quiet.

Kept beside the `run` command so its signature stays readable; `split_record_options`
takes these keys out of the command's keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pyengine.alerts import AlertConfig
from pyengine.commands.records import RecordOptions
from pyengine.errors import PyengineError

KEYS = ("report_junit", "history_db", "no_history", "lock", "quiet", "alerts_file",
        "alert_webhook", "alert_email", "smtp_host", "scap_profile", "scap_datastream",
        "persist")


def record_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the record, lock and alert options to a click command."""
    options = [
        click.option("--report-junit", type=click.Path(dir_okay=False), default=None,
                     help="Write JUnit XML (a testsuite per host, a testcase per task)."),
        click.option("--history-db", default=None, metavar="FILE|URL",
                     help="Run history: a SQLite file or postgresql://... (default: "
                          "$PYENGINE_HISTORY_DB, else .pyengine/history.sqlite here)."),
        click.option("--no-history", is_flag=True, help="Do not record the run in the history."),
        click.option("--lock", is_flag=True,
                     help="Refuse to start while another --lock run of this project is active "
                          "(exit 5); nightly jobs use it."),
        click.option("-q", "--quiet", is_flag=True, help="Print only the recap."),
        click.option("--alerts", "alerts_file", type=click.Path(dir_okay=False), default=None,
                     help="YAML file with alert settings (email_to, smtp_host, webhook_url, on)."),
        click.option("--alert-webhook", default=None, metavar="URL",
                     help="POST a JSON summary here when a task failed, a host was unreachable "
                          "or drift was found."),
        click.option("--alert-email", multiple=True, metavar="ADDRESS",
                     help="E-mail the summary to this address (with --smtp-host)."),
        click.option("--smtp-host", default=None, metavar="HOST[:PORT]",
                     help="SMTP server for --alert-email."),
        click.option("--scap-datastream", type=click.Path(dir_okay=False, exists=True),
                     default=None, help="Also judge hosts with OpenSCAP (oscap on the host) "
                     "using this SCAP data stream; the score shows beside the baseline's own."),
        click.option("--scap-profile", default=None, metavar="PROFILE",
                     help="XCCDF profile for --scap-datastream (default: CIS Level 1 Server)."),
        click.option("--persist", default=None, metavar="DURATION", envvar="PYENGINE_PERSIST",
                     help="Keep the hosts' SSH connections and agents warm this long after "
                          "the run (5m, 90s; $PYENGINE_PERSIST): the next run skips the "
                          "handshake and agent start. See `pyengine persist`."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def history_db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--history-db FILE|URL`, the one name of the history database option (run, report,
    history); `--db` stays as a hidden alias for scripts written before. A plain string,
    not a Path: `postgresql://host/db` must keep its two slashes."""
    func = click.option("--db", "db_path", default=None, hidden=True)(func)
    return click.option("--history-db", default=None, metavar="FILE|URL",
                        help="Run history: a SQLite file or postgresql://... (default: "
                        "$PYENGINE_HISTORY_DB, else .pyengine/history.sqlite here).")(func)


def split_record_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Remove and return the record options from a command's keyword arguments."""
    return {key: kwargs.pop(key) for key in KEYS if key in kwargs}


def alert_config(opts: dict[str, Any]) -> AlertConfig | None:
    """The alert settings from --alerts FILE and the quick flags (flags win)."""
    from pyengine.yamlload import load_yaml

    data: dict[str, Any] = {}
    if opts.get("alerts_file"):
        loaded = load_yaml(Path(opts["alerts_file"]))
        if loaded is not None and not isinstance(loaded, dict):
            raise PyengineError(f"{opts['alerts_file']}: alert settings must be a mapping")
        data.update((loaded or {}).get("alerts", loaded or {}))
    if opts.get("alert_webhook"):
        data["webhook_url"] = opts["alert_webhook"]
    if opts.get("alert_email"):
        data["email_to"] = list(opts["alert_email"])
    if opts.get("smtp_host"):
        host, _, port = str(opts["smtp_host"]).partition(":")
        data["smtp_host"] = host
        if port:
            data["smtp_port"] = int(port)
    return AlertConfig.from_mapping(data) if data else None


def record_settings(opts: dict[str, Any], report_json: str | None, inventories: list[str],
                    playbook: Path) -> RecordOptions:
    from pyengine.history.db import default_history_target

    history = None if opts.get("no_history") else (
        opts.get("history_db") or default_history_target())
    return RecordOptions(
        report_json=Path(report_json) if report_json else None,
        report_junit=Path(opts["report_junit"]) if opts.get("report_junit") else None,
        history_db=history,
        alerts=alert_config(opts),
        inventory=",".join(inventories),
        playbook_dir=playbook.resolve().parent,
    )


def scap_extra_vars(opts: dict[str, Any]) -> tuple[str, ...]:
    """--scap-datastream/--scap-profile as the variables the baseline and scap-scan.yml read."""
    import json

    values: dict[str, str] = {}
    if opts.get("scap_datastream"):
        path = str(Path(opts["scap_datastream"]).resolve())
        values.update(baseline_scap_datastream=path, scap_datastream=path)
    if opts.get("scap_profile"):
        values.update(baseline_scap_profile=opts["scap_profile"],
                      scap_profile=opts["scap_profile"])
    return (json.dumps(values),) if values else ()


def persist_seconds(opts: dict[str, Any], notice: Callable[[str], None] | None,
                    config: Any = None) -> float:
    """--persist (or $PYENGINE_PERSIST, or ansible.cfg's `[pyengine] persist`) as seconds;
    when on, the user's owner process is running (started now if needed) so a bad socket
    folder is a one-line error before the first connection."""
    value, origin = opts.get("persist"), "--persist"
    if value is None and config is not None and config.persist is not None:
        value, origin = config.persist, config.origins.get("persist", "ansible.cfg")
    if value is None:
        return 0.0
    from pyengine.persist.client import ensure_owner, hold_owner, set_notice
    from pyengine.persist.duration import parse_duration

    seconds = parse_duration(str(value), origin)
    if seconds > 0:
        hold_owner(ensure_owner())
        set_notice(notice)
    return seconds
