"""Posture extras from task results: compliance score, patches, drift."""

from __future__ import annotations

from pyengine.report.extra import compliance, host_extra, patches


def _task(name: str, status: str, tags: list[str], changed: bool = False, **kw: object) -> dict:
    return {"name": name, "status": status, "changed": changed, "tags": tags, **kw}


def test_audit_mode_counts_would_change_as_failing() -> None:
    tasks = [
        _task("5.2.4 MaxAuthTries", "changed", ["cis_5.2.4", "ssh"], changed=True,
              msg="would set MaxAuthTries 4"),
        _task("5.2.10 root login", "ok", ["cis_5.2.10"]),
        _task("1.1.1 cramfs", "skipped", ["cis_1.1.1.1"]),
        _task("no control", "changed", ["misc"], changed=True),
    ]
    result = compliance(tasks, check_mode=True)
    assert result == {"score": 50.0, "passed": 1, "failed": 1, "failing": [
        {"id": "cis_5.2.4", "title": "5.2.4 MaxAuthTries", "detail": "would set MaxAuthTries 4"}]}


def test_enforcing_run_counts_applied_controls_as_passing() -> None:
    tasks = [_task("a", "changed", ["cis_1"], changed=True), _task("b", "failed", ["cis_2"])]
    assert compliance(tasks, check_mode=False)["failing"][0]["id"] == "cis_2"


def test_control_with_several_tasks_fails_if_any_fails() -> None:
    tasks = [_task("a", "ok", ["cis_3"]), _task("b", "changed", ["cis_3"], changed=True)]
    assert compliance(tasks, check_mode=True)["score"] == 0.0


def test_no_controls_means_no_compliance() -> None:
    assert compliance([_task("x", "ok", ["misc"])], check_mode=True) is None


def test_patches_and_drift_and_client() -> None:
    host = {"tasks": [
        {"module": "patch", "status": "changed", "result": {
            "pending_count": 3, "security_count": 1, "reboot_required": True,
            "changes": [{"name": "openssl", "from": "3.0.1", "to": "3.0.2"}]}},
        {"module": "backup", "status": "changed", "result": {"drift": ["/etc/hosts"]}},
    ]}
    extra = host_extra(host, check_mode=False, client="acme")
    assert extra == {"client": "acme", "drift": ["/etc/hosts"], "patches": {
        "pending": 3, "security": 1, "reboot_required": True,
        "applied": [{"name": "openssl", "from": "3.0.1", "to": "3.0.2"}]}}
    assert patches([{"module": "patch", "status": "skipped"}]) is None
