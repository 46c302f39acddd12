"""The report's pictures: what the detection matrix and the measures chart mark, from the model."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from stackproof.report import catalogue, charts
from stackproof.report.model import Case, RunReport


def case(control: str, outcome: str, **measures) -> Case:
    return Case(f"suites/x.py::test_{control}", control, control, "s", "readonly", "failover", outcome=outcome,
                measurements=measures)


def test_the_matrix_marks_caught_and_missed_faults_and_unproven_controls() -> None:
    report = RunReport(run_id="r", target={"name": "lab"}, cases=[
        case("SP-FO-001", "failed"), case("SP-FO-002", "passed"), case("SP-FO-003", "waived"),
        case("SP-FO-004", "passed")],
        fault_catalogue=[
            {"name": "compute-killed", "controls": ["SP-FO-001", "SP-FO-002"], "active": True},
            {"name": "report-interval-too-long", "controls": ["SP-FO-003"], "active": True},
            {"name": "vcenter-stopped", "controls": ["SP-FO-001"], "active": False}])
    svg = charts.detection_matrix(report)
    tips = re.findall(r"<title>([^<]*)</title>", svg)
    assert "compute-killed → SP-FO-001: detected" in tips
    assert "compute-killed → SP-FO-002: missed (passed)" in tips
    assert "report-interval-too-long → SP-FO-003: detected" in tips, "a waived failure still caught the fault"
    assert "vcenter-stopped → SP-FO-001" in tips, "an inactive fault shows what it would turn red"
    assert ">SP-FO-004</text>" in svg, "a control no fault proves has its column, empty"
    assert charts.detection_matrix(RunReport(run_id="r", target={})) is None


def test_measures_are_drawn_against_their_bounds() -> None:
    report = RunReport(run_id="r", target={"name": "lab"}, cases=[case(
        "SP-FO-007", "passed", detection_seconds=41.0, detection_bound_seconds=70, recovery_seconds=95.5,
        recovery_bound_seconds=70, resource_update_interval_seconds=60, note="not a number")])
    svg = charts.measures_chart(report)
    bars = dict(re.findall(r'fill="(#[0-9a-f]{6})"><title>(\w+): ', svg)[i][::-1] for i in range(2))
    assert bars == {"detection_seconds": charts.GREEN, "recovery_seconds": charts.RED}
    assert "41 s (bound 70 s)" in svg and "95.5 s (bound 70 s)" in svg and "resource update interval 60 s" in svg
    assert charts.measures_chart(RunReport(run_id="r", target={}, cases=[case("SP-FO-001", "passed")])) is None


def test_the_lab_catalogue_comes_from_the_lab_program_not_an_import(tmp_path) -> None:
    """`python -m stackproof_lab fault list --json`, run beside the checks; it needs no running lab."""
    repo = Path(__file__).resolve().parents[1]
    assert catalogue.LabCatalogue.available(repo) and not catalogue.LabCatalogue.available(tmp_path)
    faults, note = catalogue.LabCatalogue(repo, tmp_path / "no-lab").result()
    assert note is None and faults, note
    assert all(set(f) >= {"name", "controls", "active"} for f in faults)
    assert any("SP-AGG-011" in f["controls"] for f in faults)


def test_neither_the_engine_nor_the_suites_import_the_lab() -> None:
    repo = Path(__file__).resolve().parents[1]
    offenders = []
    for path in [*(repo / "stackproof").rglob("*.py"), *(repo / "suites").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(repo)}: {n}" for n in names if n.split(".")[0] == "stackproof_lab"]
    assert offenders == []


def test_a_broken_catalogue_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(catalogue.CatalogueError, match="not a fault catalogue"):
        catalogue.from_file(path)
