"""The `stackproof` command: tiers and areas, help that helps, and a quiet terminal."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from stackproof.cli import parser

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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackproof.cli", *args], capture_output=True, text=True,
                          timeout=60)


def test_every_option_has_help_and_every_command_examples() -> None:
    top = parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices
    undocumented = [f"{name} {'/'.join(action.option_strings) or action.dest}"
                    for name, command in [("stackproof", top), *commands.items()]
                    for action in command._actions if not action.help]
    assert undocumented == []
    assert [name for name, command in commands.items() if "examples:" not in (command.epilog or "")] == []


def test_version_and_the_labs_own_help() -> None:
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("stackproof ")
    for args in (["lab", "--help"], ["lab"]):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: stackproof lab COMMAND [ARGS...]")
        assert "stackproof lab: the embedded lab" in result.stdout and "fault inject|clear NAME" in result.stdout


def test_a_run_shows_no_client_library_deprecation_warnings(project) -> None:
    project.check("placement/test_p.py", CHECKS.replace("def test_read(): assert True",
                                                        "def test_read(cloud):\n"
                                                        "    import vmware_nsxlib.v3.policy  # the NSX client\n"
                                                        "    list(cloud.compute.servers())"))
    result = stackproof(project, "--tier", "smoke", "-n", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    terminal = result.stdout + result.stderr
    for noise in ("Warning", "warnings summary", "deprecated"):
        assert noise not in terminal, terminal
