"""`stackproof run`: picks tier and area, refuses a disruptive run without the opt-in."""

from __future__ import annotations

import json
import subprocess
import sys

CHECKS = """
@pytest.mark.control("SP-AGG-002", title="Aggregates", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_read(): assert True

@pytest.mark.control("SP-AGG-007", title="qcow2 on KVM", statement="Images carry metadata.")
@pytest.mark.workload
@pytest.mark.placement
def test_work(): assert True
"""

FAILOVER = """
@pytest.mark.control("SP-FO-001", title="Up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
def test_fo(): assert True
"""


def stackproof(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stackproof.cli", "run", "--suites", str(project.path / "suites"),
         "--target", str(project.path / "stackproof.yaml"), *args],
        capture_output=True, text=True, timeout=300, cwd=project.path)


def outcomes(project) -> dict[str, str]:
    evidence = json.loads((project.path / "reports" / "latest" / "evidence.json").read_text())
    return {c["control_id"]: c["outcome"] for c in evidence["controls"]}


def test_smoke_runs_only_readonly_checks_with_four_workers(project) -> None:
    project.check("placement/test_p.py", CHECKS)
    project.check("failover/test_f.py", FAILOVER)
    result = stackproof(project, "--tier", "smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 workers" in result.stdout
    assert outcomes(project) == {"SP-AGG-002": "passed", "SP-FO-001": "passed"}


def test_area_and_full_tier(project) -> None:
    project.check("placement/test_p.py", CHECKS)
    project.check("failover/test_f.py", FAILOVER)
    result = stackproof(project, "--tier", "full", "--area", "placement", "-n", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(project) == {"SP-AGG-002": "passed", "SP-AGG-007": "passed"}


def test_disruptive_tier_without_opt_in_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "stackproof.cli", "run", "--tier", "disruptive"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert "--allow-disruptive" in result.stderr and "Traceback" not in result.stderr
