"""Control rules: every check under suites/ has one valid, unique control ID, one tier and one area."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

GOOD = """
@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_good(): assert 1 + 1 == 2
"""


def collect(project) -> pytest.RunResult:
    return project.run("--collect-only", "-q")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("@pytest.mark.readonly\n@pytest.mark.placement\ndef test_a(): pass\n", "no @pytest.mark.control"),
        ('@pytest.mark.control("AGG-1", title="t", statement="s")\n@pytest.mark.readonly\n@pytest.mark.placement\n'
         "def test_a(): pass\n", "does not match SP-<AREA>-<NNN>"),
        ('@pytest.mark.control("SP-AGG-001", title="t", statement="s")\n@pytest.mark.placement\n'
         "def test_a(): pass\n", "exactly one tier marker"),
        ('@pytest.mark.control("SP-AGG-001", title="t", statement="s")\n@pytest.mark.readonly\n'
         "@pytest.mark.workload\n@pytest.mark.placement\ndef test_a(): pass\n", "found readonly, workload"),
        ('@pytest.mark.control("SP-AGG-001", title="t")\n@pytest.mark.readonly\n@pytest.mark.placement\n'
         "def test_a(): pass\n", "non-empty title and statement"),
        ('@pytest.mark.control("SP-FO-001", title="t", statement="s")\n@pytest.mark.readonly\n'
         "@pytest.mark.placement\ndef test_a(): pass\n", "area placement uses IDs SP-AGG-NNN"),
    ],
    ids=["missing-control", "bad-id", "missing-tier", "two-tiers", "missing-statement", "area-mismatch"],
)
def test_collection_fails_with_a_clear_message(project, source: str, expected: str) -> None:
    project.check("placement/test_bad.py", source)
    result = collect(project)
    assert result.ret == 4
    err = result.stderr.str()
    assert "control rules broken" in err and expected in err and "test_bad.py::test_a" in err
    assert "Traceback" not in err


def test_duplicate_control_id_fails_naming_both(project) -> None:
    project.check("placement/test_one.py", GOOD)
    project.check("placement/test_two.py", GOOD.replace("test_good", "test_other"))
    result = collect(project)
    assert result.ret == 4
    err = result.stderr.str()
    assert "duplicate control ID SP-AGG-002" in err
    assert "test_one.py::test_good" in err and "test_two.py::test_other" in err


def test_parametrised_variants_share_their_control(project) -> None:
    project.check("placement/test_p.py", GOOD.replace("def test_good()", "@pytest.mark.parametrize('x', [1, 2])\n"
                                                      "def test_good(x)"))
    result = collect(project)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*test_good?1?*", "*test_good?2?*"])


def test_project_tests_outside_suites_need_no_control(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain(): assert True\n")
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 0


def test_controls_command_lists_table_and_json(project) -> None:
    project.check("placement/test_good.py", GOOD)
    project.check("failover/test_fo.py", """
        @pytest.mark.control("SP-FO-007", title="Killed compute is detected", statement="It must be monitored.")
        @pytest.mark.disruptive
        @pytest.mark.failover
        def test_kill(): assert True
        """)
    base = [sys.executable, "-m", "stackproof.cli", "controls", "--suites", str(project.path / "suites")]
    table = subprocess.run(base, capture_output=True, text=True, timeout=120, cwd=project.path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["ID", "TIER", "AREA", "TITLE"]
    assert lines[1].split()[:3] == ["SP-AGG-002", "readonly", "placement"]
    assert lines[2].split()[:3] == ["SP-FO-007", "disruptive", "failover"]
    listed = json.loads(subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=120,
                                       cwd=project.path).stdout)
    assert [(c["id"], c["tier"], c["area"]) for c in listed] == [
        ("SP-AGG-002", "readonly", "placement"), ("SP-FO-007", "disruptive", "failover")]
    assert listed[1]["statement"] == "It must be monitored."
