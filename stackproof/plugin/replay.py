"""Draw a finished run's HTML report again from its evidence.json: merged phases and shards get a page too.

Loaded on demand (``-p stackproof.plugin.replay --replay-evidence FILE --html OUT``), never as an entry
point. It collects nothing and runs nothing: it hands pytest-html one report per phase of each case, and
the HTML hooks (plugin/html.py) fill the page from the model exactly as they do in a live run.
"""

from __future__ import annotations

import pytest

from stackproof.plugin.report import REPORT_KEY
from stackproof.report import model
from stackproof.report.model import Case


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("stackproof").addoption("--replay-evidence", dest="sp_replay", metavar="FILE",
                                            help="the evidence.json whose HTML report to draw")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("sp_replay")
    if path:
        config.stash[REPORT_KEY] = model.load(path)


def pytest_collection(session: pytest.Session) -> bool:
    return True  # nothing to collect: the cases come from the evidence


def _reports(case: Case) -> list[pytest.TestReport]:
    path, _sep, name = case.nodeid.partition("::")
    properties = [("control_id", case.control_id)]

    def report(when: str, outcome: str, longrepr=None, duration: float = 0.0) -> pytest.TestReport:
        return pytest.TestReport(case.nodeid, (path, None, name), {}, outcome, longrepr, when, [], duration,
                                 0.0, 0.0, properties)

    setup, teardown = report("setup", "passed"), report("teardown", "passed")
    if case.outcome == "skipped":
        return [report("setup", "skipped", (path, 0, f"Skipped: {case.reason}"), case.duration), teardown]
    if case.outcome == "error":
        return [report("setup", "failed", case.message or "error", case.duration), teardown]
    call = report("call", "failed" if case.outcome == "failed" else "passed", case.message, case.duration)
    if case.outcome == "waived":
        call.outcome = "skipped"
        call.wasxfail = f"waived until {(case.waiver or {}).get('expires')}"  # type: ignore[attr-defined]
    return [setup, call, teardown]


def pytest_runtestloop(session: pytest.Session) -> bool:
    report = session.config.stash.get(REPORT_KEY, None)
    for case in report.sorted_cases() if report else []:
        for each in _reports(case):
            session.config.hook.pytest_runtest_logreport(report=each)
    return True
