"""`--control ID` runs only the controls asked for (a red one again, a detection proof's clearing run); an ID
that the tier and area select no check of is one line and a usage error, never an empty green run."""

from __future__ import annotations

import json

CHECKS = """
@pytest.mark.control("SP-AGG-001", title="Filters", statement="Scheduler filters are on.")
@pytest.mark.readonly
@pytest.mark.placement
def test_a(): pass

@pytest.mark.control("SP-AGG-002", title="Aggregates", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
@pytest.mark.parametrize("side", ["kvm", "vmware"])
def test_b(side): pass

@pytest.mark.control("SP-AGG-003", title="Keys", statement="Metadata keys take effect.")
@pytest.mark.readonly
@pytest.mark.placement
def test_c(): assert False, "aggregate kvm has no img_hv_type"

@pytest.mark.control("SP-FO-007", title="Kill compute", statement="Its loss is detected.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_e(): pass
"""


def _evaluated(project, run_id: str) -> dict[str, str]:
    evidence = json.loads((project.path / "reports" / run_id / "evidence.json").read_text())
    assert evidence["selection"]["controls"] == "SP-AGG-002,SP-AGG-003"
    return {c["nodeid"].split("::", 1)[1]: c["outcome"] for c in evidence["controls"]}


def test_only_the_controls_asked_for_run(project) -> None:
    project.check("placement/test_p.py", CHECKS)
    result = project.stackproof("run", "-n", "0", "--run-id", "asked", "--control", "SP-AGG-002",
                                "--control", "SP-AGG-003")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _evaluated(project, "asked") == {"test_b[kvm]": "passed", "test_b[vmware]": "passed",
                                            "test_c": "failed"}


def test_an_unknown_control_is_one_line_and_a_usage_error(project) -> None:
    project.check("placement/test_p.py", CHECKS)
    result = project.stackproof("run", "-n", "0", "--control", "SP-AGG-009")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--control SP-AGG-009: no check of the selected tier and area has this ID" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_two_phase_run_runs_the_asked_controls_of_either_phase(project) -> None:
    project.check("placement/test_p.py", CHECKS)
    result = project.stackproof("run", "--tier", "all", "--allow-disruptive=fake", "-n", "0", "--run-id", "twophase",
                                "--control", "SP-AGG-002,SP-AGG-003")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _evaluated(project, "twophase") == {"test_b[kvm]": "passed", "test_b[vmware]": "passed",
                                               "test_c": "failed"}
