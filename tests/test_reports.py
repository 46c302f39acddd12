"""Reports: JUnit properties that survive xdist, HTML with controls and findings, evidence.json, no secrets."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET

from fakecloud import PASSWORD

from stackproof import reports
from stackproof.findings import CheckFailed, expect

CHECKS = """
import logging
from stackproof.findings import expect

@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_pass(cloud):
    assert list(cloud.compute.servers()) == []

@pytest.mark.control("SP-AGG-011", title="DRS fully automated", statement="DRS must be Fully Automated.")
@pytest.mark.readonly
@pytest.mark.placement
def test_fail(cloud, target):
    list(cloud.network.networks())
    password = cloud.config.config["auth"]["password"]
    logging.getLogger("leaky").warning("about to fail with password %s", password)
    print("stdout carries it too:", password)
    expect(False, "DRS is not fully automated on cluster domain-c7",
           expected="fullyAutomated", found="partiallyAutomated", where="vCenter vc1, cluster domain-c7")

@pytest.mark.control("SP-FO-001", title="Compute service up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
def test_other_module_scope(cloud):
    assert cloud.compute.get_endpoint()
    token = cloud.auth_token  # a token that reaches a check's output, its properties and its failure
    print("the token:", token, cloud.session.get_token())
    logging.getLogger("leaky").warning("token %s", token)
    expect(False, f"failing with token {token}", expected="no token", found=token, where=f"token {token}")
"""


def run_checks(project, *args):
    project.check("placement/test_checks.py", CHECKS)
    result = project.run("-n", "2", "--dist", "loadscope", "-o", "log_level=INFO", *args)
    return result, project.run_dirs()[-1]


def test_junit_properties_survive_xdist(project) -> None:
    result, run_dir = run_checks(project)
    assert result.ret == 1
    cases = {case.get("name"): case for case in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")}
    assert ET.parse(run_dir / "junit.xml").getroot().tag == "testsuites"
    assert set(cases) == {"test_pass", "test_fail", "test_other_module_scope"}
    for name, case in cases.items():
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        for key in ("control_id", "title", "statement", "tier", "area", "target"):
            assert props.get(key), f"{name} lacks property {key}: {props}"
        assert props["target"] == "fake" and props["tier"] == "readonly"
    fail = {p.get("name"): p.get("value") for p in cases["test_fail"].iter("property")}
    assert fail["control_id"] == "SP-AGG-011" and fail["statement"] == "DRS must be Fully Automated."
    assert fail["expected"] == "fullyAutomated" and fail["found"] == "partiallyAutomated"
    assert fail["where"] == "vCenter vc1, cluster domain-c7"


def test_html_evidence_and_latest_link(project) -> None:
    _result, run_dir = run_checks(project)
    html = (run_dir / "report.html").read_text()
    expected = ("SP-AGG-002", "SP-AGG-011", "DRS fully automated", "partiallyAutomated", "DRS must be Fully Automated.")
    for text in expected:
        assert text in html, text
    assert "<link" not in html or "stylesheet" not in html.split("<link", 1)[1][:200], "HTML must be self-contained"
    assert (project.path / "reports" / "latest").resolve() == run_dir.resolve()
    evidence = json.loads((run_dir / "evidence.json").read_text())
    assert evidence["run_id"] == run_dir.name and evidence["target"]["name"] == "fake"
    assert evidence["client_versions"]["openstacksdk"]
    assert evidence["service_versions"]["fake"]["compute"]["max_microversion"] == "2.96"
    controls = {c["control_id"]: c for c in evidence["controls"]}
    assert controls["SP-AGG-002"]["outcome"] == "passed" and controls["SP-AGG-011"]["outcome"] == "failed"
    assert controls["SP-AGG-011"]["found"] == "partiallyAutomated"
    requests = controls["SP-AGG-011"]["requests"]
    assert any(r["method"] == "GET" and r["path"].startswith("/network/v2.0/networks") and r["status"] == 200
               and r["request_id"].startswith("req-") for r in requests), requests
    assert all(c["duration"] >= 0 for c in controls.values())
    for name, digest in evidence["files_sha256"].items():
        assert reports.sha256(run_dir / name) == digest, name
    assert {"junit.xml", "report.html"} <= set(evidence["files_sha256"])


def test_no_secret_reaches_any_report_or_log(project) -> None:
    """Passwords, and every Keystone token a process obtained (each xdist worker has its own), are masked in
    every report file; the run directory and its files are the operator's alone."""
    result, run_dir = run_checks(project)
    assert result.ret == 1
    tokens = list(project.fake.tokens)
    assert len(tokens) >= 2, "the controller and the worker that ran the checks authenticate each"
    files = [p for p in run_dir.iterdir() if p.is_file()]
    assert len(files) >= 5, files
    for path in files:
        content = path.read_bytes()
        assert PASSWORD.encode() not in content, f"password found in {path.name}"
        assert not [t for t in tokens if t.encode() in content], f"a token found in {path.name}"
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others: {oct(path.stat().st_mode)}"
    assert run_dir.stat().st_mode & 0o077 == 0, oct(run_dir.stat().st_mode)
    # the secrets did travel: they were masked, not merely absent
    html = (run_dir / "report.html").read_text()
    assert "about to fail with password ***" in html and "failing with token ***" in html
    assert PASSWORD not in result.stdout.str() and not [t for t in tokens if t in result.stdout.str()]
    token_check = next(c for c in json.loads((run_dir / "evidence.json").read_text())["controls"]
                       if c["control_id"] == "SP-FO-001")
    assert token_check["found"] == "***" and token_check["where"] == "token ***"


def test_expect_renders_expected_found_where() -> None:
    try:
        expect(1 == 2, "numbers differ", expected=2, found=1, where={"host": "kvm-1", "request_id": "req-1"})
    except CheckFailed as exc:
        assert exc.fields() == {"expected": "2", "found": "1", "where": "host=kvm-1, request_id=req-1"}
        assert str(exc).splitlines() == ["numbers differ", "  expected: 2", "  found:    1",
                                         "  where:    host=kvm-1, request_id=req-1"]
    else:
        raise AssertionError("expect() did not fail")


def test_log_records_are_redacted_at_creation(caplog) -> None:
    from stackproof import secrets

    secrets.install_log_redaction()
    secrets.register("s3cr3t-value-for-log-test")
    with caplog.at_level(logging.INFO):
        logging.getLogger("any.library").info("auth with %s", "s3cr3t-value-for-log-test")
    assert caplog.records[-1].getMessage() == "auth with ***"
