"""After-run alerts: a summary by e-mail (SMTP, stdlib) and/or a JSON webhook.

Sent only when something needs a person: a failed task, an unreachable host,
configuration drift or a health check whose state changed since the last run (a
disk that stays full alerts once, not every night: pyengine/health/changes.py).
The summary is built from the masked JSON report, so an alert
can never carry a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyengine.errors import PyengineError
from pyengine.masking import mask

REASONS = ("failed", "unreachable", "drift", "health")


class AlertError(PyengineError):
    """An alert could not be delivered (the run itself is unaffected)."""


@dataclass
class AlertConfig:
    """Where alerts go; empty fields mean 'not configured'."""

    email_to: list[str] = field(default_factory=list)
    email_from: str = "pyengine@localhost"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    webhook_url: str = ""
    on: tuple[str, ...] = REASONS
    timeout: float = 10.0

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> AlertConfig:
        """From the `alerts:` section of a config file; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise PyengineError(
                f"alerts: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        values = dict(data)
        if isinstance(values.get("email_to"), str):
            values["email_to"] = [values["email_to"]]
        if "on" in values:
            values["on"] = tuple(values["on"])
        return cls(**values)

    @property
    def configured(self) -> bool:
        return bool((self.email_to and self.smtp_host) or self.webhook_url)


def alert_reasons(report: dict[str, Any]) -> dict[str, list[str]]:
    """reason -> hosts, for each reason present in the run."""
    found: dict[str, list[str]] = {}
    for host, data in sorted(report.get("hosts", {}).items()):
        if data.get("unreachable"):
            found.setdefault("unreachable", []).append(host)
        if data.get("failed"):
            found.setdefault("failed", []).append(host)
        if (data.get("extra") or {}).get("drift"):
            found.setdefault("drift", []).append(host)
        if ((data.get("extra") or {}).get("health") or {}).get("changes"):
            found.setdefault("health", []).append(host)
    return found


def summary(report: dict[str, Any], reasons: dict[str, list[str]]) -> dict[str, Any]:
    """The alert payload: what happened, where, and each problem host's failed tasks."""
    hosts = report.get("hosts", {})
    details = {}
    for host in sorted({h for names in reasons.values() for h in names}):
        data = hosts.get(host, {})
        details[host] = {
            "unreachable": bool(data.get("unreachable")),
            "failed_tasks": [
                {"name": t.get("name", ""), "msg": t.get("msg", "")}
                for t in data.get("tasks", []) if t.get("status") in ("failed", "unreachable")
            ],
            "drift": (data.get("extra") or {}).get("drift", []),
            "health": ((data.get("extra") or {}).get("health") or {}).get("changes", []),
        }
    return mask({
        "playbook": report.get("playbook", ""),
        "started": report.get("started", ""),
        "exit_code": report.get("exit_code"),
        "reasons": reasons,
        "hosts": details,
    })


def _subject(payload: dict[str, Any]) -> str:
    parts = [f"{len(hosts)} {reason}" for reason, hosts in payload["reasons"].items()]
    return f"[pyengine] {payload['playbook']}: " + ", ".join(parts)


def _body(payload: dict[str, Any]) -> str:
    lines = [f"Run of {payload['playbook']} started {payload['started']}, "
             f"exit code {payload['exit_code']}.", ""]
    for host, info in payload["hosts"].items():
        lines.append(f"{host}:" + (" UNREACHABLE" if info["unreachable"] else ""))
        lines += [f"  failed: {t['name']}: {t['msg']}" for t in info["failed_tasks"]]
        lines += [f"  drift: {path}" for path in info["drift"]]
        lines += [f"  health {c['check']}: {c['from']} -> {c['to']}: {c['reason']}"
                  for c in info.get("health", [])]
    return "\n".join(lines) + "\n"


def send_alerts(report: dict[str, Any], config: AlertConfig) -> list[str]:
    """Send what is configured when the run warrants it; returns the channels used."""
    reasons = {k: v for k, v in alert_reasons(report).items() if k in config.on}
    if not reasons or not config.configured:
        return []
    payload = summary(report, reasons)
    sent = []
    if config.email_to and config.smtp_host:
        # Imported here (urllib.request below too): with email, http.client and ssl they
        # cost every run ~90 ms to import (issue 17); only a run that alerts needs them.
        import smtplib
        from email.message import EmailMessage

        message = EmailMessage()
        message["Subject"] = _subject(payload)
        message["From"] = config.email_from
        message["To"] = ", ".join(config.email_to)
        message.set_content(_body(payload))
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout) as smtp:
                if config.smtp_starttls:
                    smtp.starttls()
                if config.smtp_user:
                    smtp.login(config.smtp_user, config.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            where = f"{config.smtp_host}:{config.smtp_port}"
            raise AlertError(f"e-mail alert to {where} failed: {err}") from None
        sent.append("email")
    if config.webhook_url:
        if not config.webhook_url.startswith(("http://", "https://")):
            raise AlertError(f"webhook_url must be http(s): {config.webhook_url}")
        import urllib.request

        request = urllib.request.Request(
            config.webhook_url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "pyengine"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=config.timeout) as response:
                response.read()
        except OSError as err:
            raise AlertError(f"webhook alert to {config.webhook_url} failed: {err}") from None
        sent.append("webhook")
    return sent
