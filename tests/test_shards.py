"""Scale-out: `--shard K/N` splits the controls deterministically (disruptive ones in shard 1 only), and
`stackproof merge` joins the shards' report directories into one run, refusing parts that do not belong."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from stackproof import exitcodes
from stackproof.report import evidence
from stackproof.report.model import Case, RunReport
from stackproof.shards import shard_of

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
def test_c(): pass

@pytest.mark.control("SP-FO-001", title="Up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
def test_d(): assert False, "nova-compute on vc-a is down"

@pytest.mark.control("SP-FO-007", title="Kill compute", statement="Its loss is detected.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_e(): pass

@pytest.mark.control("SP-FO-008", title="Fence compute", statement="Fencing works.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_f(): pass
"""


def evaluated(run_dir) -> set[str]:
    evidence = json.loads((run_dir / "evidence.json").read_text())
    return {c["nodeid"].split("::", 1)[1] for c in evidence["controls"]}


def test_shards_split_the_controls_and_merge_into_one_run(project) -> None:
    project.check("placement/test_s.py", CHECKS)
    shards = {}
    for k in (1, 2, 3):
        result = project.run("--shard", f"{k}/3", "--allow-disruptive=fake", "--run-id", f"shard{k}")
        assert result.ret in (exitcodes.OK, exitcodes.FAILED), result.stdout.str()
        shards[k] = evaluated(project.path / "reports" / f"shard{k}")
    assert {"test_e", "test_f"} <= shards[1], "every disruptive control runs in shard 1"
    assert shards[1] & shards[2] == shards[2] & shards[3] == shards[1] & shards[3] == set()
    assert shards[1] | shards[2] | shards[3] == {"test_a", "test_b[kvm]", "test_b[vmware]", "test_c", "test_d",
                                                 "test_e", "test_f"}
    assert any({"test_b[kvm]", "test_b[vmware]"} <= part for part in shards.values()), "variants stay together"

    parts = [str(project.path / "reports" / f"shard{k}") for k in (1, 2, 3)]
    merged = project.stackproof("merge", *parts, "--output", str(project.path / "merged"))
    assert merged.returncode == exitcodes.FAILED, merged.stdout + merged.stderr  # SP-FO-001 is red
    out = project.path / "merged"
    evidence = json.loads((out / "evidence.json").read_text())
    assert [p["run_id"] for p in evidence["merged_from"]] == ["shard1", "shard2", "shard3"]
    assert evidence["run_id"] not in ("shard1", "shard2", "shard3") and evidence["deselected"] == []
    assert evidence["selection"]["shards"] == ["1/3", "2/3", "3/3"]
    assert len(evidence["controls"]) == 7 and evidence["exit_status"] == exitcodes.FAILED
    cases = sorted(c.get("name") for c in ET.parse(out / "junit.xml").getroot().iter("testcase"))
    assert cases[:3] == ["SP-AGG-001 Filters", "SP-AGG-002 Aggregates[kvm]", "SP-AGG-002 Aggregates[vmware]"]
    assert len(cases) == 7
    html = (out / "report.html").read_text()
    assert f"stackproof · fake · run {evidence['run_id']}" in html and "nova-compute on vc-a is down" in html
    assert {"junit.xml", "report.html"} <= set(evidence["files_sha256"])


def part(directory: Path, run_id: str, control: str, **fields) -> Path:
    report = RunReport(run_id=run_id, target={"name": "fake"}, client_versions={"stackproof": "0.1.0"},
                       cases=[Case(f"suites/x.py::test_{control}", control, "t", "s", "readonly", "placement")])
    for key, value in fields.items():
        setattr(report, key, value)
    (directory / run_id).mkdir()
    evidence.write(report, directory / run_id)
    return directory / run_id


def merge(*parts: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackproof.cli", "merge", *map(str, parts)],
                          capture_output=True, text=True, timeout=120)


def test_merge_refuses_parts_of_different_targets_versions_or_twice(tmp_path: Path) -> None:
    first = part(tmp_path, "part1", "SP-AGG-001")
    for other, message in (
            (first / "evidence.json", "SP-AGG-001 (suites/x.py::test_SP-AGG-001) is in both"),
            (part(tmp_path, "part2", "SP-AGG-002", target={"name": "prod-east"}),
             "different target (fake / prod-east)"),
            (part(tmp_path, "part3", "SP-AGG-003", client_versions={"stackproof": "9.9"}),
             "different stackproof version (0.1.0 / 9.9)"),
            (part(tmp_path, "part4", "SP-AGG-004", service_versions={"fake": {"compute": {"api_version": "2.1"}}}),
             "different service versions")):
        refused = merge(first, other)
        assert refused.returncode == exitcodes.BAD_INPUT, refused.stdout + refused.stderr
        assert message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_shard_assignment() -> None:
    ids = ["SP-AGG-001", "SP-AGG-002", "SP-AGG-003", "SP-BLK-001"]
    assert [shard_of(i, "readonly", ids, 2) for i in ids] == [1, 2, 1, 2]
    assert shard_of("SP-FO-007", "disruptive", ids, 3) == 1
