"""Alerts against a real SMTP server (aiosmtpd) and a real HTTP server, both on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pyengine import masking
from pyengine.alerts import AlertConfig, AlertError, alert_reasons, send_alerts
from pyengine.errors import PyengineError


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check needs a concrete port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _report(failed: bool = True) -> dict:
    return {
        "playbook": "nightly.yml", "started": "2026-11-26T02:00:00+00:00", "exit_code": 2,
        "hosts": {
            "h1": {"failed": 1 if failed else 0, "unreachable": False, "tasks": [
                {"name": "apply patches", "status": "failed" if failed else "ok",
                 "msg": "dpkg was interrupted; password=vault-pw-123"}]},
            "h2": {"failed": 0, "unreachable": True, "tasks": []},
            "h3": {"failed": 0, "unreachable": False, "tasks": [],
                   "extra": {"drift": ["/etc/ssh/sshd_config"]}},
            "h4": {"failed": 0, "unreachable": False, "tasks": []},
        },
    }


def test_reasons_name_the_hosts() -> None:
    assert alert_reasons(_report()) == {"failed": ["h1"], "unreachable": ["h2"], "drift": ["h3"]}


def test_email_and_webhook_carry_the_summary_masked(smtp: tuple[int, _Inbox],
                                                    webhook: tuple[str, list[dict]]) -> None:
    port, inbox = smtp
    url, received = webhook
    masking.register_secret("vault-pw-123")
    try:
        config = AlertConfig(email_to=["noc@example.test"], smtp_host="127.0.0.1",
                             smtp_port=port, webhook_url=url)
        assert send_alerts(_report(), config) == ["email", "webhook"]
    finally:
        masking.clear_secrets()
    mail = message_from_bytes(inbox.messages[0])
    assert mail["Subject"] == "[pyengine] nightly.yml: 1 failed, 1 unreachable, 1 drift"
    body = mail.get_payload()
    assert "h1:" in body and "failed: apply patches" in body
    assert "drift: /etc/ssh/sshd_config" in body
    assert "vault-pw-123" not in body and masking.MASK in body
    payload = received[0]
    assert payload["reasons"]["unreachable"] == ["h2"]
    assert "vault-pw-123" not in json.dumps(payload)
    assert "h4" not in payload["hosts"]


def test_nothing_sent_when_all_is_well(webhook: tuple[str, list[dict]]) -> None:
    url, received = webhook
    report = _report(failed=False)
    del report["hosts"]["h2"], report["hosts"]["h3"]
    assert send_alerts(report, AlertConfig(webhook_url=url)) == []
    assert received == []


def test_only_selected_reasons_alert(webhook: tuple[str, list[dict]]) -> None:
    url, received = webhook
    assert send_alerts(_report(), AlertConfig(webhook_url=url, on=("drift",))) == ["webhook"]
    assert received[0]["reasons"] == {"drift": ["h3"]}


def test_unreachable_smtp_is_a_clear_error() -> None:
    config = AlertConfig(email_to=["a@b.test"], smtp_host="127.0.0.1", smtp_port=1, timeout=2)
    with pytest.raises(AlertError, match="e-mail alert to 127.0.0.1:1 failed"):
        send_alerts(_report(), config)


def test_config_from_mapping_rejects_unknown_keys() -> None:
    config = AlertConfig.from_mapping({"email_to": "noc@example.test", "smtp_host": "127.0.0.1"})
    assert config.email_to == ["noc@example.test"] and config.configured
    with pytest.raises(PyengineError, match="unknown setting"):
        AlertConfig.from_mapping({"smtp_hots": "x"})
