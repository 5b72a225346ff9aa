"""The scap_eval module's summary of XCCDF results, and the module run for real with a
stand-in `oscap` program (a script writing a results file) so the argv, the exit codes
and the clean-up are exercised without OpenSCAP on the machine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pyengine.agent.runtime import run_module

MODULE = Path(__file__).resolve().parents[2] / "modules" / "scap_eval.py"
NS = "http://checklists.nist.gov/xccdf/1.2"
PREFIX = "xccdf_org.ssgproject.content_rule_"


def results_xml(rules: dict[str, str], score: str = "71.5") -> str:
    items = "".join(
        f'<rule-result idref="{PREFIX}{rule}" severity="medium"><result>{res}</result>'
        f"</rule-result>" for rule, res in rules.items())
    return (f'<?xml version="1.0"?><Benchmark xmlns="{NS}" id="b">'
            f'<TestResult id="xccdf_org.open-scap_testresult_p">{items}'
            f'<score system="urn:xccdf:scoring:flat" maximum="400">120</score>'
            f'<score system="urn:xccdf:scoring:default" maximum="100.000000">{score}</score>'
            f"</TestResult></Benchmark>")


def load_module():
    namespace: dict = {}
    exec(compile(MODULE.read_text(), str(MODULE), "exec"), namespace)
    return namespace


def test_summary_counts_results_and_lists_failing_rules_sorted() -> None:
    summarize = load_module()["summarize"]
    xml = results_xml({"sshd_set_idle_timeout": "fail", "package_aide_installed": "pass",
                       "grub2_password": "notapplicable", "audit_rules_x": "error",
                       "accounts_tmout": "fail"})
    out = summarize(xml.encode(), PREFIX)
    assert out["score"] == 71.5 and out["score_max"] == 100.0
    assert out["counts"]["pass"] == 1 and out["counts"]["fail"] == 2
    assert out["counts"]["notapplicable"] == 1 and out["counts"]["error"] == 1
    assert out["failed_rules"] == ["accounts_tmout", "sshd_set_idle_timeout"]
    assert out["error_rules"] == ["audit_rules_x"]


def test_summary_without_test_result_is_an_error() -> None:
    summarize = load_module()["summarize"]
    with pytest.raises(ValueError):
        summarize(f'<Benchmark xmlns="{NS}"/>'.encode(), PREFIX)


def fake_oscap(folder: Path, exit_code: int, rules: dict[str, str]) -> Path:
    """A program taking oscap's argv that writes the results file it is asked for."""
    xml = folder / "canned.xml"
    xml.write_text(results_xml(rules))
    log = folder / "argv.txt"
    script = folder / "oscap"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {log}\n'
        'while [ $# -gt 0 ]; do [ "$1" = --results ] && out="$2"; shift; done\n'
        f'cp {xml} "$out"\n'
        f"exit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_module_runs_oscap_and_leaves_no_results_behind(tmp_path: Path) -> None:
    ds = tmp_path / "ds.xml"
    ds.write_text("<ds/>")
    oscap = fake_oscap(tmp_path, 2, {"a": "pass", "b": "fail"})
    result = run_module(MODULE.read_text(), {"datastream": str(ds), "profile": "prof",
                                             "oscap": str(oscap)})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["counts"]["pass"] == 1 and result["failed_rules"] == ["b"]
    argv = (tmp_path / "argv.txt").read_text().split()
    assert argv[:4] == ["xccdf", "eval", "--profile", "prof"] and argv[-1] == str(ds)
    # the results file lived in the task's temporary folder, which is gone
    results = Path(argv[argv.index("--results") + 1])
    assert results.name == "xccdf-results.xml" and not results.exists()
    assert not results.parent.exists()


def test_module_check_mode_still_scans_and_reports_no_change(tmp_path: Path) -> None:
    ds = tmp_path / "ds.xml"
    ds.write_text("<ds/>")
    oscap = fake_oscap(tmp_path, 0, {"a": "pass"})
    result = run_module(MODULE.read_text(), {"datastream": str(ds), "profile": "p",
                                             "oscap": str(oscap)}, check_mode=True)
    assert result["changed"] is False and result["counts"]["pass"] == 1


def test_oscap_error_exit_fails_the_task(tmp_path: Path) -> None:
    ds = tmp_path / "ds.xml"
    ds.write_text("<ds/>")
    oscap = fake_oscap(tmp_path, 1, {"a": "pass"})
    result = run_module(MODULE.read_text(), {"datastream": str(ds), "profile": "p",
                                             "oscap": str(oscap)})
    assert result["failed"] and "exited 1" in result["msg"]


def test_missing_datastream_fails_clearly(tmp_path: Path) -> None:
    result = run_module(MODULE.read_text(), {"datastream": str(tmp_path / "nope.xml"),
                                             "profile": "p", "oscap": "/bin/true"})
    assert result["failed"] and "not found on the host" in result["msg"]
    assert os.path.exists(str(tmp_path))
