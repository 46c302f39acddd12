"""Exit codes: a run that evaluated nothing (every control skipped or deselected) fails with its own code."""

from __future__ import annotations

from stackproof import exitcodes
from stackproof.report.model import Case, RunReport

SKIPPING = """
@pytest.mark.control("SP-FO-003", title="Heartbeat settings", statement="report_interval < service_down_time.")
@pytest.mark.readonly
@pytest.mark.failover
def test_a():
    pytest.skip("the target describes no host role 'compute-vmware'")

@pytest.mark.control("SP-FO-004", title="Supervised", statement="nova-compute restarts on failure.")
@pytest.mark.readonly
@pytest.mark.failover
def test_b():
    pytest.skip("no host role 'compute-vmware'")
"""


def test_every_control_skipped_exits_with_its_own_code(project) -> None:
    project.check("failover/test_skip.py", SKIPPING)
    result = project.run()
    assert result.ret == exitcodes.NOTHING_EVALUATED == 6
    result.stdout.fnmatch_lines([
        "*SP-FO-003*skipped*Heartbeat settings*",
        "*not evaluated: the target describes no host role 'compute-vmware'*",
        "*exit code 6: nothing evaluated: every control was skipped or deselected*"])


def test_every_control_deselected_under_xdist_exits_with_its_own_code(project) -> None:
    project.check("failover/test_skip.py", SKIPPING)
    result = project.run("-m", "workload", "-n", "2")
    assert result.ret == exitcodes.NOTHING_EVALUATED, result.stdout.str()
    result.stdout.fnmatch_lines(["*2 control(s) outside this run's selection*"])


def test_nothing_collected_keeps_pytests_code(project) -> None:
    (project.path / "suites" / "failover").mkdir(parents=True)
    result = project.run()
    assert result.ret == exitcodes.NOTHING_COLLECTED == 5


def _case(outcome: str, control: str = "SP-FO-001") -> Case:
    return Case(f"suites/f.py::test_{control}", control, "t", "s", "readonly", "failover", outcome=outcome)


def test_exit_code_from_the_model() -> None:
    def code(**fields) -> int:
        return RunReport(run_id="r", target={"name": "t"}, **fields).exit_code()

    assert code(cases=[_case("passed"), _case("skipped")]) == exitcodes.OK
    assert code(cases=[_case("waived")]) == exitcodes.OK
    assert code(cases=[_case("passed"), _case("error")]) == exitcodes.FAILED
    assert code(cases=[_case("passed")], leaks=["volume sp-r-x (1)"]) == exitcodes.FAILED
    assert code(cases=[_case("passed")], waivers=[{"control": "SP-FO-002", "status": "expired"}]) == exitcodes.FAILED
    assert code(cases=[_case("skipped")]) == exitcodes.NOTHING_EVALUATED
    assert code(deselected=["SP-FO-001"]) == exitcodes.NOTHING_EVALUATED
    assert code() == exitcodes.NOTHING_COLLECTED
    assert code(cases=[_case("failed")], interrupted=True) == exitcodes.INTERRUPTED
    # two phases: the disruptive one evaluated nothing (no opt-in), the run as a whole did
    assert code(cases=[_case("passed"), _case("skipped", "SP-FO-007")],
                phases=[{"exit_status": 0}, {"exit_status": 6}]) == exitcodes.OK
    assert code(cases=[_case("passed")], phases=[{"exit_status": 0}, {"exit_status": 4}]) == exitcodes.BAD_INPUT
