"""`stackproof run`: one run in two phases (parallel checks, then disruptive ones alone) with one set of reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

# Each check notes when it starts and ends, and in which process.
NOTE = """
import os
import time
from pathlib import Path

LOG = Path(__file__).parents[2] / "order.log"

def note(what):
    with LOG.open("a") as f:
        f.write(f"{what} {os.getpid()} {time.time():.6f}\\n")
"""



def reads(control: str, area: str, label: str) -> str:
    """A module of four readonly checks (one control's variants) that note when they run."""
    return NOTE + f"""
@pytest.mark.control("{control}", title="Reads", statement="Something holds.")
@pytest.mark.readonly
@pytest.mark.{area}
@pytest.mark.parametrize("i", range(4))
def test_read(i):
    note(f"start-{label}-{{i}}"); time.sleep(0.3); note(f"end-{label}-{{i}}")
"""


# Two modules: --dist loadscope hands each module to one worker.
CHECKS, OTHER = reads("SP-FO-001", "failover", "read"), reads("SP-AGG-001", "placement", "read-p")

DISRUPTIVE = NOTE + """
@pytest.mark.control("SP-FO-007", title="Kill compute", statement="Its loss is detected.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_kill():
    note("start-kill"); time.sleep(0.3); note("end-kill")

@pytest.mark.control("SP-FO-008", title="Fence compute", statement="Forced-down fencing works.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_fence():
    note("start-fence"); time.sleep(0.3); note("end-fence")
"""


def _order(project) -> list[tuple[str, int, float]]:
    rows = [line.split() for line in (project.path / "order.log").read_text().splitlines()]
    return sorted(((name, int(pid), float(at)) for name, pid, at in rows), key=lambda row: row[2])


def test_a_run_is_a_parallel_phase_then_the_disruptive_checks_alone(project) -> None:
    project.check("failover/test_fo.py", CHECKS)
    project.check("failover/test_disruptive.py", DISRUPTIVE)
    project.check("placement/test_other.py", OTHER)
    result = project.stackproof("run", "--tier", "all", "--allow-disruptive=fake", "-n", "2", "--run-id", "phased")
    assert result.returncode == 0, result.stdout + result.stderr
    order = _order(project)
    reads = [row for row in order if "read" in row[0]]
    disruptive = [row for row in order if row[0].endswith(("kill", "fence"))]
    assert len({pid for _n, pid, _t in reads}) == 2, "the readonly checks ran on two workers"
    assert min(t for _n, _p, t in disruptive) > max(t for _n, _p, t in reads), order
    assert len({pid for _n, pid, _t in disruptive}) == 1, "the disruptive checks ran in one process"
    names = [name for name, _p, _t in disruptive]
    assert names in (["start-kill", "end-kill", "start-fence", "end-fence"],
                     ["start-fence", "end-fence", "start-kill", "end-kill"]), "one at a time"

    run_dir = project.path / "reports" / "phased"
    assert project.run_dirs() == [run_dir], "one run ID, one report directory"
    for phase in ("parallel", "disruptive"):
        part = json.loads((run_dir / "phases" / phase / "evidence.json").read_text())
        assert part["run_id"] == "phased" and part["selection"]["phase"] == phase
    merged = json.loads((run_dir / "evidence.json").read_text())
    assert merged["run_id"] == "phased" and merged["exit_status"] == 0
    assert [p["label"] for p in merged["phases"]] == ["parallel", "disruptive"]
    assert sorted(c["control_id"] for c in merged["controls"]) == (
        ["SP-AGG-001"] * 4 + ["SP-FO-001"] * 4 + ["SP-FO-007", "SP-FO-008"])
    assert {"junit.xml", "report.html", "phases/disruptive/evidence.json"} <= set(merged["files_sha256"])
    cases = [c.get("name") for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")]
    assert len(cases) == 10 and "SP-FO-007 Kill compute" in cases
    html = (run_dir / "report.html").read_text()
    assert "stackproof · fake · run phased" in html and "SP-FO-008" in html
    assert (project.path / "reports" / "latest").resolve() == run_dir


def test_without_the_opt_in_the_disruptive_phase_reports_why_nothing_ran(project) -> None:
    project.check("failover/test_fo.py", CHECKS)
    project.check("failover/test_disruptive.py", DISRUPTIVE)
    result = project.stackproof("run", "--tier", "all", "-n", "2", "--run-id", "noopt")
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads((project.path / "reports" / "noopt" / "evidence.json").read_text())
    skipped = {c["control_id"]: c["reason"] for c in merged["controls"] if c["outcome"] == "skipped"}
    assert set(skipped) == {"SP-FO-007", "SP-FO-008"}
    assert all("--allow-disruptive=fake" in reason for reason in skipped.values())
    assert "not evaluated: disruptive check" in result.stdout


def test_a_bad_shard_is_one_line(project) -> None:
    project.check("failover/test_fo.py", CHECKS)
    result = project.stackproof("run", "--tier", "all", "--shard", "4/3")
    assert result.returncode == 4 and result.stderr.strip() == (
        "stackproof: --shard 4/3: expected K/N with 1 <= K <= N, e.g. --shard 2/3")
