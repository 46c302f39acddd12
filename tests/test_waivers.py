"""Waivers: a waived failure is reported as waived (never passed) in every report; an expired one fails the run."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackproof import exitcodes
from stackproof.report import waivers

CHECKS = """
from stackproof.findings import expect

@pytest.mark.control("SP-AGG-011", title="DRS fully automated", statement="DRS must be Fully Automated.")
@pytest.mark.readonly
@pytest.mark.placement
def test_drs():
    expect(False, "DRS is partially automated", expected="fullyAutomated", found="partiallyAutomated",
           where="cluster domain-c7")

@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_aggregates():
    pass
"""

WAIVED = """\
waivers:
  - control: SP-AGG-011
    justification: DRS stays partially automated until the vMotion network is rebuilt (CHG-1234)
    expires: 2099-12-31
    scope: {target: fake}
  - control: SP-AGG-002
    justification: only for the production cloud, which this is not
    expires: 2099-12-31
    scope: {target: prod-east}
"""


def write(project, text: str) -> Path:
    path = project.path / "waivers.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_waived_failure_is_reported_as_waived_in_every_report(project) -> None:
    project.check("placement/test_drs.py", CHECKS)
    result = project.run("--waivers", str(write(project, WAIVED)))
    assert result.ret == exitcodes.OK, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*SP-AGG-011*waived*DRS fully automated*",
        "*waived until 2099-12-31: DRS stays partially automated until the vMotion network is rebuilt (CHG-1234)*",
        "*found: partiallyAutomated*",
        "*waiver SP-AGG-011: applied*", "*waiver SP-AGG-002: out of scope*",
        "*1 passed, 1 waived*"])
    run_dir = project.run_dirs()[-1]
    evidence = json.loads((run_dir / "evidence.json").read_text())
    case = next(c for c in evidence["controls"] if c["control_id"] == "SP-AGG-011")
    assert case["outcome"] == "waived" and case["found"] == "partiallyAutomated"
    assert case["waiver"]["expires"] == "2099-12-31"
    assert {w["control"]: w["status"] for w in evidence["waivers"]} == {"SP-AGG-011": "applied",
                                                                          "SP-AGG-002": "out of scope"}
    junit = ET.parse(run_dir / "junit.xml").getroot()
    testcase = next(c for c in junit.iter("testcase") if c.get("name").startswith("SP-AGG-011"))
    skipped = testcase.find("skipped")
    assert skipped.get("type") == "waived" and skipped.get("message").startswith("waived until 2099-12-31")
    assert testcase.find("failure") is None and "partiallyAutomated" in testcase.find("system-out").text
    run_props = {p.get("name"): p.get("value") for p in junit.find("testsuite/properties")}
    assert run_props["waiver"].startswith("SP-AGG-") and run_props["exit_status"] == "0"
    html = (run_dir / "report.html").read_text()
    assert "sp-waived-result" in html and "CHG-1234" in html


def test_an_expired_waiver_fails_the_run_and_says_so(project) -> None:
    project.check("placement/test_drs.py", CHECKS)
    path = write(project, WAIVED.replace("2099-12-31", "2020-01-31", 1))
    result = project.run("--waivers", str(path))
    assert result.ret == exitcodes.FAILED
    result.stdout.fnmatch_lines([
        "*SP-AGG-011*FAILED*DRS fully automated*",
        "*waiver SP-AGG-011 expired on 2020-01-31: the run fails until it is renewed or removed*"])
    evidence = json.loads((project.run_dirs()[-1] / "evidence.json").read_text())
    assert {w["control"]: w["status"] for w in evidence["waivers"]}["SP-AGG-011"] == "expired"
    assert next(c for c in evidence["controls"] if c["control_id"] == "SP-AGG-011")["outcome"] == "failed"


def test_a_bad_waivers_file_stops_the_run_before_any_check_in_one_line(project) -> None:
    project.check("placement/test_drs.py", CHECKS)
    result = project.run("--waivers", str(write(project, "waivers:\n  - control: SP-AGG-011\n")))
    assert result.ret == exitcodes.BAD_INPUT
    errors = [line for line in result.stderr.lines if "waivers file" in line]
    assert len(errors) == 1 and "justification: Field required" in errors[0] and "Traceback" not in result.stderr.str()
    assert not project.fake.requests, "no check ran, the cloud was not even asked"


@pytest.mark.parametrize(("text", "message"), [
    ("waivers:\n  - {control: AGG-11, justification: long enough text, expires: 2099-01-01}\n",
     "waivers.0.control: String should match pattern"),
    ("waivers:\n  - {control: SP-AGG-011, justification: long enough text, expires: someday}\n",
     "waivers.0.expires: Input should be a valid date"),
    ("waivers:\n  - {control: SP-AGG-011, justification: short, expires: 2099-01-01}\n",
     "waivers.0.justification: String should have at least 10 characters"),
    ("waivers:\n  - {control: SP-AGG-011, justification: long enough text, expires: 2099-01-01, until: x}\n",
     "waivers.0.until: Extra inputs are not permitted"),
    ("waivers:\n  - {control: SP-AGG-011, justification: long enough text, expires: 2099-01-01}\n"
     "  - {control: SP-AGG-011, justification: long enough text, expires: 2099-02-01}\n", "SP-AGG-011 is waived twice"),
    ("waivers: [\n", "cannot be read"),
], ids=["control-id", "date", "justification", "unknown-field", "twice", "yaml"])
def test_waivers_file_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(waivers.WaiverError, match=message.replace("(", r"\(").replace(")", r"\)")):
        waivers.load(path)


def test_a_waiver_covers_its_last_day_and_its_scope_only() -> None:
    waiver = waivers.Waiver(control="SP-AGG-011", justification="accepted until the fix lands",
                            expires=dt.date(2030, 6, 30), scope=waivers.Scope(target="prod"))
    on_the_day = waivers.Waivers([waiver], "prod", "run1", dt.date(2030, 6, 30))
    assert on_the_day.in_force("SP-AGG-011") is waiver and on_the_day.in_force("SP-AGG-002") is None
    assert waivers.Waivers([waiver], "prod", "run1", dt.date(2030, 7, 1)).in_force("SP-AGG-011") is None
    assert waivers.Waivers([waiver], "staging", "run1", dt.date(2030, 6, 1)).in_force("SP-AGG-011") is None
    statuses = waivers.Waivers([waiver], "prod", "run1", dt.date(2030, 7, 1)).statuses(set())
    assert statuses == [{"control": "SP-AGG-011", "justification": "accepted until the fix lands",
                         "expires": "2030-06-30", "scope": {"target": "prod"}, "status": "expired"}]


def test_the_readme_waivers_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = next(block.split("```", 1)[0] for block in readme.split("```yaml\n")[1:] if block.startswith("waivers:"))
    path = tmp_path / "waivers.yaml"
    path.write_text(example)
    (loaded,) = waivers.load(path)
    assert loaded.control == "SP-AGG-011" and loaded.scope.target == "prod-east"
