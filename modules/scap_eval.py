"""Run an OpenSCAP XCCDF evaluation on this host and return a compact summary.

Runs `oscap xccdf eval --profile PROFILE --results FILE DATASTREAM` in the task's private
temporary folder (removed when the task ends: no results file is left behind), reads the
XCCDF results with xml.etree and returns the score, the count of each rule result and
the ids of the failing rules. The scan only reads the host, so check mode runs it too
and nothing is ever "changed".
"""

import os
import xml.etree.ElementTree as ET

ARGS = {
    "datastream": {"type": "path", "required": True, "aliases": ["path"],
                   "help": "SCAP source data stream on the host (ssg-*-ds.xml)."},
    "profile": {"type": "str", "required": True,
                "help": "XCCDF profile id, e.g. "
                        "xccdf_org.ssgproject.content_profile_cis_level1_server."},
    "oscap": {"type": "str", "default": "oscap", "help": "The oscap program."},
    "rule_prefix": {"type": "str", "default": "xccdf_org.ssgproject.content_rule_",
                    "help": "Prefix cut from rule ids in the summary."},
    "keep_results": {"type": "path",
                     "help": "Also copy the XCCDF results XML here (default: not kept)."},
}

RESULTS = ("pass", "fail", "notapplicable", "error", "unknown", "notchecked", "notselected",
           "informational", "fixed")


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def summarize(xml_bytes, rule_prefix=""):
    """Score, counts and failing rule ids from XCCDF results XML (the last TestResult)."""
    root = ET.fromstring(xml_bytes)
    test = None
    for elem in root.iter():
        if _local(elem.tag) == "TestResult":
            test = elem
    if test is None:
        raise ValueError("no TestResult in the results file")
    counts = dict((name, 0) for name in RESULTS)
    failing = []
    errors = []
    score = None
    score_max = None
    for child in test:
        name = _local(child.tag)
        if name == "rule-result":
            result = ""
            for sub in child:
                if _local(sub.tag) == "result":
                    result = (sub.text or "").strip()
            counts[result] = counts.get(result, 0) + 1
            rule = child.get("idref", "")
            if rule_prefix and rule.startswith(rule_prefix):
                rule = rule[len(rule_prefix):]
            if result == "fail":
                failing.append(rule)
            elif result == "error":
                errors.append(rule)
        elif name == "score" and (score is None
                                  or child.get("system") == "urn:xccdf:scoring:default"):
            score = round(float((child.text or "0").strip()), 2)
            score_max = float(child.get("maximum") or 100)
    return {"score": score, "score_max": score_max, "counts": counts,
            "failed_rules": sorted(failing), "error_rules": sorted(errors),
            "profile": test.get("id", "")}


def main(m):
    p = m.params
    datastream = p["datastream"]
    if not os.path.isfile(datastream):
        m.fail(f"data stream {datastream} not found on the host")
    oscap = m.which(p["oscap"]) if os.sep not in p["oscap"] else p["oscap"]
    if not oscap:
        m.fail("oscap not found: install openscap-scanner (Debian) or openscap-scanner "
               "(RHEL) on the host first")
    results = os.path.join(m.tmpdir, "xccdf-results.xml")
    rc, out, err = m.run([oscap, "xccdf", "eval", "--profile", p["profile"],
                          "--results", results, datastream])
    # oscap: 0 every rule passed, 2 at least one failed, anything else is an error.
    if rc not in (0, 2) or not os.path.exists(results):
        m.fail(f"oscap xccdf eval exited {rc}: {(err or out).strip()[-500:]}", rc=rc)
    with open(results, "rb") as handle:
        data = handle.read()
    try:
        summary = summarize(data, p["rule_prefix"])
    except (ValueError, ET.ParseError) as exc:
        m.fail(f"cannot read the XCCDF results: {exc}")
    if p.get("keep_results"):
        m.atomic_write(p["keep_results"], data, mode=0o600)
        summary["results_path"] = p["keep_results"]
    c = summary["counts"]
    summary.update(changed=False, rc=rc, datastream=datastream,
                   msg=(f"score {summary['score']}: {c['pass']} pass, {c['fail']} fail, "
                        f"{c['notapplicable']} not applicable, {c['error']} error"))
    return summary
