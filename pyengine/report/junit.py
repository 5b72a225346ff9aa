"""JUnit XML from a run's JSON report, for CI dashboards and schedulers that read it.

One <testsuite> per host, one <testcase> per task: a failed task is a <failure>, an
unreachable host an <error>, a skipped task <skipped/>. A pure function of the
report dict (docs/ARCHITECTURE.md), masked again on the way out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pyengine.masking import mask, mask_text


def junit_xml(report: dict[str, Any]) -> str:
    """The JUnit XML document for `report` as a string."""
    report = mask(report)
    root = ET.Element("testsuites", name=f"pyengine {report.get('playbook', '')}".strip())
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for host, data in sorted(report.get("hosts", {}).items()):
        started = str(report.get("started", ""))
        suite = ET.SubElement(root, "testsuite", name=host, timestamp=started)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
        for task in data.get("tasks", []):
            counts["tests"] += 1
            duration = float(task.get("duration_s", 0.0))
            counts["time"] += duration
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{host}.{task.get('play', '') or 'play'}",
                name=str(task.get("name", "")) or str(task.get("module", "")),
                time=f"{duration:.3f}",
            )
            status = task.get("status")
            message = mask_text(str(task.get("msg", "")))
            if status == "failed":
                counts["failures"] += 1
                node = ET.SubElement(case, "failure", message=message.splitlines()[0] if message
                                     else "failed", type=str(task.get("module", "")))
                node.text = message
            elif status == "unreachable":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=message or "unreachable", type="unreachable")
            elif status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message)
        if data.get("unreachable") and not any(
            t.get("status") == "unreachable" for t in data.get("tasks", [])
        ):
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=host, name="connect", time="0.000")
            ET.SubElement(case, "error", message="host unreachable", type="unreachable")
        for key, value in counts.items():
            suite.set(key, f"{value:.3f}" if key == "time" else str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(int(value)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: dict[str, Any], path: Path) -> None:
    """Write the JUnit file (atomically, like every report)."""
    from pyengine.report.json_report import write_text_atomically

    write_text_atomically(path, junit_xml(report))
