"""Safety tiers: readonly checks cannot write, disruptive checks need the opt-in and run last, one at a time."""

from __future__ import annotations

import json

READONLY_WRITE = """
@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_sneaky_write(cloud):
    list(cloud.compute.servers())            # a read is fine
    cloud.network.create_network(name="should-never-exist")
"""


def test_readonly_check_cannot_write_and_the_failure_names_check_and_request(project) -> None:
    project.check("placement/test_ro.py", READONLY_WRITE)
    result = project.run()
    assert result.ret == 1
    out = result.stdout.str()
    assert "SP-AGG-002" in out and "test_sneaky_write" in out
    assert "is a readonly check but tried POST" in out and "/network/v2.0/networks" in out
    assert project.fake.writes() == [], "the write must never reach the cloud"
    assert ("GET", "/compute/v2.1/servers/detail") in project.fake.requests or any(
        m == "GET" and p.startswith("/compute/v2.1/servers") for m, p in project.fake.requests)


def test_readonly_check_that_swallows_the_refusal_still_fails(project) -> None:
    project.check("placement/test_ro.py", READONLY_WRITE.replace(
        '    cloud.network.create_network(name="should-never-exist")',
        '    try:\n        cloud.network.create_network(name="x")\n    except BaseException:\n        pass'))
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED*test_sneaky_write*"])
    assert project.fake.writes() == []


def test_workload_check_may_write(project) -> None:
    project.check("placement/test_wl.py", """
        @pytest.mark.control("SP-AGG-007", title="qcow2 lands on KVM", statement="Images carry metadata.")
        @pytest.mark.workload
        @pytest.mark.placement
        def test_create(resources):
            net = resources.create("network", hint="net")
            assert net.name.startswith(resources.prefix)
        """)
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    assert [m for m, _ in project.fake.writes()] == ["POST", "DELETE"]


DISRUPTIVE = """
import time
from pathlib import Path

LOG = Path(__file__).parents[2] / "order.log"

def note(what):
    with LOG.open("a") as f:
        f.write(f"{what} {time.time():.6f}\\n")

@pytest.mark.control("SP-FO-001", title="Service up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
@pytest.mark.parametrize("i", range(6))
def test_read(i):
    note(f"start-read-{i}"); time.sleep(0.3); note(f"end-read-{i}")

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


def _order(project) -> list[tuple[str, float]]:
    rows = [line.split() for line in (project.path / "order.log").read_text().splitlines()]
    return sorted(((name, float(at)) for name, at in rows), key=lambda row: row[1])


def test_disruptive_checks_are_skipped_without_opt_in(project) -> None:
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("-rs")
    assert result.ret == 0
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*disruptive check: not run unless --allow-disruptive=fake names this target*"])


def test_disruptive_opt_in_must_name_this_target(project) -> None:
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("-rs", "--allow-disruptive=production")
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*--allow-disruptive=production does not name this target (fake)*"])


def test_disruptive_checks_never_run_beside_others_under_xdist(project) -> None:
    """A plain `pytest -n 3` must not run a disruptive check while other checks run on the other workers."""
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("--allow-disruptive=fake", "-n", "3", "--dist", "loadscope", "-rs")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*disruptive check: not run under xdist (-n), where other checks run beside it*"])
    assert not any(name.endswith(("kill", "fence")) for name, _at in _order(project))


def test_disruptive_checks_run_last_without_xdist(project) -> None:
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("--allow-disruptive=fake")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=8)
    names = [name for name, _at in _order(project)]
    assert names[-4:] == ["start-kill", "end-kill", "start-fence", "end-fence"] or \
        names[-4:] == ["start-fence", "end-fence", "start-kill", "end-kill"], names
    report = json.loads((project.run_dirs()[-1] / "evidence.json").read_text())
    outcomes = {c["control_id"]: c["outcome"] for c in report["controls"]}
    assert outcomes["SP-FO-007"] == outcomes["SP-FO-008"] == "passed"
