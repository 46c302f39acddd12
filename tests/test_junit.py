"""junit.xml for CI renderers: valid against Jenkins' JUnit schema, cases named by control, classname by area."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from reportchecks import OUTCOMES, run_checks

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "fixtures" / "junit" / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMA)


def properties(element: ET.Element) -> dict[str, str]:
    found = element.find("properties")
    return {p.get("name"): p.get("value") for p in found.iter("property")} if found is not None else {}


def test_junit_names_every_case_by_control_and_validates(project, schema) -> None:
    result, run_dir = run_checks(project)
    assert result.ret == 1, result.stdout.str()
    path = run_dir / "junit.xml"
    schema.validate(path)  # raises with the offending element if the file is not valid
    root = ET.parse(path).getroot()
    outer = root.find("testsuite")
    assert root.tag == "testsuites" and outer.get("name") == "fake readonly"
    assert outer.get("id") == run_dir.name
    counts = [outer.get(key) for key in ("tests", "failures", "errors", "skipped")]
    assert counts == ["8", "2", "1", "1"]
    run_props = properties(outer)
    assert run_props["run_id"] == run_dir.name and run_props["target"] == "fake" and run_props["exit_status"] == "1"

    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert sorted(cases) == [
        "SP-AGG-002 Aggregates exist", "SP-AGG-005 Image types per provider[kvm]",
        "SP-AGG-005 Image types per provider[vmware]", "SP-AGG-011 DRS fully automated",
        "SP-FO-001 Compute service up", "SP-FO-003 Heartbeat settings", "SP-FO-005 No duplicate compute nodes",
        "SP-FO-006 vCenter-loss signature"]
    assert {name: case.get("classname") for name, case in cases.items() if name.startswith("SP-FO")} == dict.fromkeys(
        [n for n in cases if n.startswith("SP-FO")], "failover")
    assert cases["SP-AGG-002 Aggregates exist"].get("classname") == "placement"

    failure = cases["SP-AGG-011 DRS fully automated"].find("failure")
    assert failure.get("message") == "found: partiallyAutomated; where: vCenter vc1, cluster domain-c7"
    assert "expected: fullyAutomated" in failure.text
    skipped = cases["SP-FO-003 Heartbeat settings"].find("skipped")
    assert skipped.get("message") == "not evaluated: the target describes no host role 'compute-vmware'"
    error = cases["SP-FO-005 No duplicate compute nodes"].find("error")
    assert "the fixture could not reach the cloud" in error.get("message")

    # The control's details stay as properties, on the suite around each case (the schema allows no
    # properties inside a testcase).
    suites = {suite.get("name"): suite for suite in outer.findall("testsuite")}
    assert set(suites) == set(cases)
    fail = properties(suites["SP-AGG-011 DRS fully automated"])
    assert fail | {"request_ids": ""} == fail | {
        "control_id": "SP-AGG-011", "title": "DRS fully automated", "statement": "DRS must be Fully Automated.",
        "tier": "readonly", "area": "placement", "target": "fake", "outcome": "failed",
        "expected": "fullyAutomated", "found": "partiallyAutomated", "where": "vCenter vc1, cluster domain-c7",
        "request_ids": ""}
    assert fail["request_ids"].startswith("req-"), "the requests behind a red check are named"
    measured = properties(suites["SP-FO-006 vCenter-loss signature"])
    assert measured["measure.detection_seconds"] == "41.0" and measured["measure.recovery_bound_seconds"] == "70"
    assert {properties(suite)["control_id"] + (name[name.index("["):] if "[" in name else ""):
            properties(suite)["outcome"] for name, suite in suites.items()} == OUTCOMES


def test_the_schema_is_strict(tmp_path: Path, schema) -> None:
    """pytest's own xunit1 output (properties inside a testcase) is what the schema refuses: the validation
    above is a real check, not a formality."""
    xunit1 = tmp_path / "xunit1.xml"
    xunit1.write_text('<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0">'
                      '<testcase name="t" classname="c"><properties><property name="control_id" value="SP-AGG-001"/>'
                      "</properties></testcase></testsuite></testsuites>")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(xunit1)
