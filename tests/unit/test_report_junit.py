"""JUnit XML from a JSON report: counts, failure text, unreachable hosts, masking."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pyengine import masking
from pyengine.report.junit import junit_xml, write_junit


def _report() -> dict:
    return {
        "playbook": "nightly.yml", "started": "2026-11-26T02:00:00+00:00",
        "hosts": {
            "h1": {"unreachable": False, "tasks": [
                {"name": "ok task", "module": "file", "status": "ok", "duration_s": 0.5,
                 "play": "base"},
                {"name": "bad task", "module": "command", "status": "failed", "duration_s": 0.25,
                 "msg": "non-zero return code\nrc=3 token=s3cr3t-value", "play": "base"},
                {"name": "skip", "module": "apt", "status": "skipped", "duration_s": 0,
                 "play": "base"},
            ]},
            "h2": {"unreachable": True, "tasks": []},
        },
    }


def test_suites_and_counts_per_host() -> None:
    root = ET.fromstring(junit_xml(_report()))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "4", "1", "1", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["h1"].get("tests") == "3" and suites["h1"].get("time") == "0.750"
    failure = suites["h1"].find("testcase[@name='bad task']/failure")
    assert failure is not None and failure.get("message") == "non-zero return code"
    assert suites["h2"].find("testcase/error").get("type") == "unreachable"


def test_secrets_are_masked(tmp_path: Path) -> None:
    masking.register_secret("s3cr3t-value")
    try:
        path = tmp_path / "r.xml"
        write_junit(_report(), path)
        text = path.read_text()
        assert "s3cr3t-value" not in text and masking.MASK in text
        ET.fromstring(text)
    finally:
        masking.clear_secrets()
