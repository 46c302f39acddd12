"""`stackproof compare RUN_A RUN_B`: newly red, fixed, still red, slower, new and removed controls; exit 1 on a
regression."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stackproof import exitcodes
from stackproof.report import compare, evidence
from stackproof.report.model import Case, RunReport, load


def case(control: str, outcome: str, duration: float = 1.0, variant: str = "") -> Case:
    return Case(f"suites/x/test_x.py::test_{control[3:].lower()}{variant}", control, f"title of {control}",
                "statement", "readonly", "placement", outcome=outcome, duration=duration,
                found="something else" if outcome in ("failed", "error") else None, where="cluster c1")


def run(run_id: str, *cases: Case) -> RunReport:
    return RunReport(run_id=run_id, target={"name": "prod"}, selection={"tier": "full"}, cases=list(cases),
                     client_versions={"stackproof": "0.1.0"})


BEFORE = run("a", case("SP-AGG-001", "passed"), case("SP-AGG-002", "failed"), case("SP-AGG-003", "failed"),
             case("SP-AGG-004", "passed", 10.0), case("SP-AGG-005", "passed", 1.0, "[kvm]"),
             case("SP-AGG-006", "passed"), case("SP-AGG-007", "passed", 1.0))
AFTER = run("b", case("SP-AGG-001", "failed"), case("SP-AGG-002", "passed"), case("SP-AGG-003", "error"),
            case("SP-AGG-004", "passed", 16.0), case("SP-AGG-005", "passed", 1.0, "[kvm]"),
            case("SP-AGG-005", "failed", 1.0, "[vmware]"), case("SP-AGG-007", "passed", 2.9))


def test_every_kind_of_change_is_named() -> None:
    result = compare.compare(BEFORE, AFTER)
    assert [n.case_id for _o, n in result.newly_red] == ["SP-AGG-001"]
    assert [n.case_id for _o, n in result.fixed] == ["SP-AGG-002"]
    assert [n.case_id for _o, n in result.still_red] == ["SP-AGG-003"]
    assert [n.case_id for _o, n in result.slower] == ["SP-AGG-004"], "SP-AGG-007: slower, but by under 2 s"
    assert [c.case_id for c in result.new] == ["SP-AGG-005[vmware]"]
    assert [c.case_id for c in result.removed] == ["SP-AGG-006"]
    assert result.regression and result.exit_code() == exitcodes.FAILED
    text = "\n".join(compare.render(result))
    assert "newly red: 1\n  SP-AGG-001 failed (was passed): title of SP-AGG-001 — found: something else; " \
           "where: cluster c1" in text
    assert "SP-AGG-004 10.0 s -> 16.0 s" in text and "removed controls: 1\n  SP-AGG-006 (was passed)" in text


def test_no_regression_when_only_fixed() -> None:
    fixed = run("c", *[c if c.control_id != "SP-AGG-002" else case("SP-AGG-002", "passed") for c in BEFORE.cases])
    result = compare.compare(BEFORE, fixed)
    assert not result.regression and result.exit_code() == exitcodes.OK and len(result.fixed) == 1


def test_compare_command_reads_report_dirs_and_files(tmp_path: Path) -> None:
    for report in (BEFORE, AFTER):
        (tmp_path / report.run_id).mkdir()
        evidence.write(report, tmp_path / report.run_id)
    result = subprocess.run([sys.executable, "-m", "stackproof.cli", "compare", str(tmp_path / "a"),
                             str(tmp_path / "b" / "evidence.json"), "--threshold", "100"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == exitcodes.FAILED, result.stderr
    assert "slower by more than 100%: 0" in result.stdout and "newly red: 1" in result.stdout
    assert result.stdout.strip().endswith("regression")
    missing = subprocess.run([sys.executable, "-m", "stackproof.cli", "compare", str(tmp_path / "a"),
                              str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == exitcodes.BAD_INPUT and "no evidence.json there" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_evidence_of_format_1_is_read_with_defaults(tmp_path: Path) -> None:
    old = {"run_id": "old", "target": {"name": "prod"}, "exit_status": 0, "controls": [
        {"nodeid": "suites/x.py::test_a", "control_id": "SP-AGG-001", "title": "t", "statement": "s",
         "tier": "readonly", "area": "placement", "outcome": "passed", "duration": 1.0, "requests": []}]}
    (tmp_path / "evidence.json").write_text(json.dumps(old))
    report = load(tmp_path)
    assert report.format_version == 1
    result = compare.compare(report, AFTER)
    assert [n.case_id for _o, n in result.newly_red] == ["SP-AGG-001"]
