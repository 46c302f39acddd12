"""Reports: HTML with controls and findings, evidence.json, no secrets (JUnit: test_junit.py)."""

from __future__ import annotations

import json
import logging

from fakecloud import PASSWORD
from reportchecks import OUTCOMES, outcomes, run_checks

from stackproof import reports
from stackproof.findings import CheckFailed, expect

# A check whose output carries the Keystone token: every report must mask it (issue 12, item 12).
TOKEN_CHECK = """
import logging
from stackproof.findings import expect

@pytest.mark.control("SP-FO-002", title="One big hypervisor", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
def test_token_in_output(cloud):
    token = cloud.auth_token  # a token that reaches a check's output, its properties and its failure
    print("the token:", token, cloud.session.get_token())
    logging.getLogger("leaky").warning("token %s", token)
    expect(False, f"failing with token {token}", expected="no token", found=token, where=f"token {token}")
"""


def test_html_evidence_and_latest_link(project) -> None:
    _result, run_dir = run_checks(project)
    html = (run_dir / "report.html").read_text()
    expected = ("SP-AGG-002", "SP-AGG-011", "DRS fully automated", "partiallyAutomated", "DRS must be Fully Automated.")
    for text in expected:
        assert text in html, text
    assert "<link" not in html or "stylesheet" not in html.split("<link", 1)[1][:200], "HTML must be self-contained"
    assert (project.path / "reports" / "latest").resolve() == run_dir.resolve()
    evidence = json.loads((run_dir / "evidence.json").read_text())
    assert evidence["format_version"] == 2
    assert evidence["run_id"] == run_dir.name and evidence["target"]["name"] == "fake"
    assert evidence["client_versions"]["openstacksdk"]
    assert evidence["service_versions"]["fake"]["compute"]["max_microversion"] == "2.96"
    controls = {c["control_id"]: c for c in evidence["controls"]}
    assert outcomes(evidence["controls"]) == OUTCOMES
    assert controls["SP-FO-003"]["reason"] == "the target describes no host role 'compute-vmware'"
    assert evidence["exit_status"] == 1
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
    project.check("failover/test_token.py", TOKEN_CHECK)
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
                       if c["control_id"] == "SP-FO-002")
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
