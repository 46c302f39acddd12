"""Reports: HTML with controls and findings, evidence.json, no secrets (JUnit: test_junit.py)."""

from __future__ import annotations

import json
import logging

from fakecloud import PASSWORD, TOKEN
from reportchecks import OUTCOMES, outcomes, run_checks

from stackproof import reports
from stackproof.findings import CheckFailed, expect


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
    result, run_dir = run_checks(project)
    assert result.ret == 1
    files = [p for p in run_dir.iterdir() if p.is_file()]
    assert len(files) >= 5, files
    for path in files:
        content = path.read_bytes()
        assert PASSWORD.encode() not in content, f"password found in {path.name}"
        assert TOKEN.encode() not in content, f"token found in {path.name}"
    # the secret did travel: it was masked, not merely absent
    assert "about to fail with password ***" in (run_dir / "report.html").read_text()
    assert PASSWORD not in result.stdout.str()


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
