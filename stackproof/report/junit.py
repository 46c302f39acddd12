"""junit.xml from the report model, for CI renderers (GitLab, Jenkins) and for tools that read properties.

CI pages show a testcase's name, classname and outcome and ignore properties, so the control travels in
those: each testcase is named ``SP-XXX-NNN <title>`` (a parametrised variant keeps its ``[suffix]``), its
classname is the area, and the outer suite is named after the target and tier. The details stay as
properties for tools that read them: the run's on the outer suite, each case's on a suite of its own around
it (Jenkins' JUnit schema allows properties on suites only). A waived failure is a ``skipped`` case whose
message says waived and until when; the failure itself is kept in the case's system-out.
"""

from __future__ import annotations

import datetime as dt
import platform
import xml.etree.ElementTree as ET
from pathlib import Path

from stackproof.report.model import Case, RunReport

JUNIT = "junit.xml"


def _time(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}"


def _properties(parent: ET.Element, pairs: list[tuple[str, object]]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in pairs:
        if value is not None and value != "":
            ET.SubElement(element, "property", name=name, value=str(value))


def _counts(cases: list[Case]) -> dict[str, str]:
    return {
        "tests": str(len(cases)),
        "failures": str(sum(c.outcome == "failed" for c in cases)),
        "errors": str(sum(c.outcome == "error" for c in cases)),
        "skipped": str(sum(c.outcome in ("skipped", "waived") for c in cases)),
        "time": _time(sum(c.duration for c in cases)),
    }


def _run_properties(report: RunReport) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        ("run_id", report.run_id),
        ("target", report.target_name),
        ("tier", report.tier_label),
        ("stackproof", report.stackproof_version),
        ("evidence_format", report.format_version),
        ("exit_status", report.exit_code()),
    ]
    if report.selection.get("shard"):
        pairs.append(("shard", report.selection["shard"]))
    pairs += [("merged_from", part["run_id"]) for part in report.merged_from]
    pairs += [("leak", leak) for leak in report.leaks]
    if report.interrupted:
        pairs.append(("interrupted", f"true; remove what is left with: {report.cleanup_command}"))
    for waiver in report.waivers:
        pairs.append(("waiver", f"{waiver['control']} {waiver['status']} (expires {waiver['expires']}): "
                                f"{waiver['justification']}"))
    return pairs


def _case_properties(case: Case, target: str) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        ("control_id", case.control_id), ("title", case.title), ("statement", case.statement),
        ("tier", case.tier), ("area", case.area), ("target", target), ("outcome", case.outcome),
        ("expected", case.expected), ("found", case.found), ("where", case.where), ("reason", case.reason),
    ]
    pairs += [(f"measure.{k}", v) for k, v in sorted(case.measurements.items())]
    if case.waiver:
        pairs += [("waiver", case.waiver.get("justification")), ("waiver_expires", case.waiver.get("expires"))]
    request_ids = [r["request_id"] for r in case.requests if r.get("request_id")]
    if case.red and request_ids:
        pairs.append(("request_ids", " ".join(request_ids[-20:])))
    return pairs


def _testcase(parent: ET.Element, case: Case) -> None:
    element = ET.SubElement(parent, "testcase", name=case.name, classname=case.area, time=_time(case.duration))
    if case.outcome in ("failed", "error"):
        child = ET.SubElement(element, "failure" if case.outcome == "failed" else "error",
                              message=case.headline, type="CheckFailed" if case.found is not None else "error")
        child.text = case.message or ""
    elif case.outcome == "skipped":
        ET.SubElement(element, "skipped", message=case.headline)
    elif case.outcome == "waived":
        waiver = case.waiver or {}
        ET.SubElement(element, "skipped", type="waived",
                      message=f"waived until {waiver.get('expires')}: {waiver.get('justification')}; "
                              f"failed: {case.headline}")
        ET.SubElement(element, "system-out").text = case.message or ""


def render(report: RunReport) -> ET.ElementTree:
    cases = report.sorted_cases()
    suite_name = f"{report.target_name} {report.tier_label}"
    root = ET.Element("testsuites", name=suite_name, **{k: v for k, v in _counts(cases).items() if k != "skipped"})
    started = dt.datetime.fromtimestamp(report.started or 0, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    suite = ET.SubElement(root, "testsuite", name=suite_name, id=report.run_id, timestamp=started,
                          hostname=platform.node(), **_counts(cases))
    _properties(suite, _run_properties(report))
    for case in cases:
        inner = ET.SubElement(suite, "testsuite", name=case.name, **_counts([case]))
        _properties(inner, _case_properties(case, report.target_name))
        _testcase(inner, case)
    ET.indent(root)
    return ET.ElementTree(root)


def write(report: RunReport, directory: Path) -> Path:
    path = Path(directory) / JUNIT
    render(report).write(path, encoding="utf-8", xml_declaration=True)
    return path
