"""The run's report model, built as checks report in, finished at the end, and written as JUnit and evidence.

In the controller (or the only process) every check's reports arrive here first: the case is recorded, a
failure under a waiver in force becomes waived (pytest then counts it as an expected failure, so the exit
status, the terminal and the HTML page agree), and at the end the model decides the exit status (a run that
evaluated nothing fails with its own code) before pytest-html draws the page from it. junit.xml and
evidence.json are written last, from the same model.
"""

from __future__ import annotations

import time

import pytest

from stackproof import apilog, secrets
from stackproof.plugin.run import reached_record, run_state
from stackproof.report import evidence, junit, waivers
from stackproof.report.model import RED, Case, RunReport
from stackproof.reports import client_versions
from stackproof.runstate import RunState

REPORT_KEY = pytest.StashKey[RunReport]()
WRITING_KEY = pytest.StashKey[float]()
INDEX_KEY = pytest.StashKey[dict]()  # a replayed run's cases by node ID
DESELECTED_KEY = "stackproof_deselected"  # in an xdist worker's workeroutput
CASE_FIELDS = ("expected", "found", "where")
REQUESTS_PROPERTY = "requests"


def finished_report(config: pytest.Config) -> RunReport | None:
    """The run's model once finished (at session end), or the one a replay renders."""
    return config.stash.get(REPORT_KEY, None)


def case_of(config: pytest.Config, nodeid: str) -> Case | None:
    state = run_state(config)
    if state is not None:
        return state.cases.get(nodeid)
    if INDEX_KEY not in config.stash:
        report = finished_report(config)
        config.stash[INDEX_KEY] = {c.nodeid: c for c in report.cases} if report else {}
    return config.stash[INDEX_KEY].get(nodeid)


# -- every process: what a failing check's report carries ------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = run_state(item.config)
    if state is None or not report.failed or item.nodeid not in state.controls:
        return
    # The requests behind a red check travel with its report, for the HTML page (evidence.json gets every
    # check's requests from the API records at the end).
    calls = [c for c in apilog.since(0) if c.check == item.nodeid]
    report.user_properties.append((REQUESTS_PROPERTY, [
        {"method": c.method, "path": c.path, "status": c.status, "request_id": c.request_id, "error": c.error}
        for c in calls[-50:]]))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    state = run_state(items[0].config)
    if state is None:
        return
    for item in items:
        mark = item.get_closest_marker("control")
        if mark is not None and mark.args:
            state.deselected.append(str(mark.args[0]))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: a worker's deselected controls come back in its workeroutput."""
    state = run_state(node.config)
    if state is not None:
        state.deselected.extend(getattr(node, "workeroutput", {}).get(DESELECTED_KEY, []))


# -- the controller: cases as reports arrive -------------------------------------------------------------
class CaseRecorder:
    """Registered in the controller (or the only process), which sees every worker's reports."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "control_id" not in props:
            return
        case = self.state.cases.get(report.nodeid)
        if case is None:
            case = self.state.cases[report.nodeid] = Case(
                report.nodeid, props["control_id"], props.get("title", ""), props.get("statement", ""),
                props.get("tier", ""), props.get("area", ""))
        case.duration = round(case.duration + report.duration, 3)
        for key, value in report.user_properties:
            if key in CASE_FIELDS:
                setattr(case, key, secrets.redact(str(value)))
            elif key.startswith("measure."):
                case.measurements[key.removeprefix("measure.")] = value
            elif key == REQUESTS_PROPERTY:
                case.requests = list(value)
        if report.skipped and report.when in ("setup", "call"):
            case.outcome = "skipped"
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            case.reason = secrets.redact(reason.removeprefix("Skipped: "))
        elif report.failed:
            self._failure(case, report)

    def _failure(self, case: Case, report: pytest.TestReport) -> None:
        case.message = secrets.redact(report.longreprtext)[-4000:]
        if report.when != "call":
            if case.outcome not in RED:
                case.outcome = "error"  # set-up or tear-down broke: the check itself could not run cleanly
            return
        waiver = self.state.waivers.in_force(case.control_id) if self.state.waivers else None
        if waiver is None:
            case.outcome = "failed"
            return
        case.outcome, case.waiver = "waived", waivers.record(waiver)
        # pytest's own name for a known failure: not counted as failed, shown as such, never as passed.
        report.outcome = "skipped"
        report.wasxfail = waiver.describe()  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    state = run_state(config)
    if state is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(CaseRecorder(state), "stackproof-case-recorder")


# -- the end ---------------------------------------------------------------------------------------------
def header(state: RunState) -> RunReport:
    """What is known of the run before any check ran: identity, target, selection, versions."""
    return RunReport(
        run_id=state.run_id,
        # The clouds the run reached (per clouds role: entry, clouds.yaml, auth URL, region, project, user).
        target={"name": state.target.name, "source": str(state.target.source), "lab": state.lab_default,
                "clouds": reached_record(state)["clouds"]},
        started=state.started,
        selection=dict(state.selection) | {"max_tier": state.max_tier},
        service_versions=state.service_versions,
        client_versions=client_versions(),
        allow_disruptive=state.disruptive_allowed,
    )


def build(state: RunState, exit_status: int) -> RunReport:
    report = header(state)
    catalogue = state.catalogue
    if catalogue is not None and not isinstance(catalogue, list):
        catalogue, note = catalogue.result()
        if note:
            state.notes.append(f"no detection matrix: {note}")
    waived = {c.control_id for c in state.cases.values() if c.outcome == "waived"}
    present = {c.control_id for c in state.cases.values()}
    report.finished = time.time()
    report.exit_status = int(exit_status)
    report.interrupted = state.interrupts.interrupted
    report.leaks = list(state.leaks)
    report.cleanup_errors = list(state.cleanup_errors)
    report.waivers = state.waivers.statuses(waived) if state.waivers else []
    report.fault_catalogue = catalogue
    report.deselected = sorted(set(state.deselected) - present)
    report.cases = list(state.cases.values())
    report.notes = list(state.notes)
    return report


@pytest.hookimpl
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the clean-up and leak audit (tryfirst, plugin/resources.py), before pytest-html (trylast)."""
    config = session.config
    state = run_state(config)
    if state is None:
        return
    if hasattr(config, "workerinput"):
        config.workeroutput[DESELECTED_KEY] = sorted(set(state.deselected))  # type: ignore[attr-defined]
        return
    began = time.monotonic()
    report = build(state, session.exitstatus)
    report.exit_status = report.exit_code()
    session.exitstatus = report.exit_status
    config.stash[REPORT_KEY] = report
    config.stash[WRITING_KEY] = began


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    report = finished_report(config)
    state = run_state(config)
    if report is None or state is None:
        return
    junit.write(report, state.outputs)
    evidence.attach_requests(report, state.report_dir)
    path = evidence.write(report, state.outputs)
    # From the end of the checks: the model, report.html (pytest-html), junit.xml and evidence.json.
    took = time.monotonic() - config.stash.get(WRITING_KEY, time.monotonic())
    print(f"stackproof: evidence written to {path} (reports written in {took:.2f} s)")
