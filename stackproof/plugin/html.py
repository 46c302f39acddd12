"""pytest-html's hooks: the HTML report speaks in controls.

pytest-html draws the page (filters, sorting, collapsing rows); everything on it comes from the report model
through stackproof/report/html.py: the title with target and run ID, the environment (target, stackproof,
client and service versions, no dumps of internal objects), rows sorted by control ID with area and tier
columns, one duration format, skip reasons as text, the finding and the request IDs behind a red check,
the per-area summary, waivers, the detection matrix and the failover measures. The same hooks draw a
merged run's page (plugin/replay.py).
"""

from __future__ import annotations

import pytest
from pytest_metadata.plugin import metadata_key

from stackproof.plugin.report import case_of, finished_report, header
from stackproof.plugin.run import run_state
from stackproof.report import html
from stackproof.report.model import RunReport

#: pytest-metadata's defaults: dumps of internals (dicts of plugins and packages), and the Python and platform
#: of the process drawing the page, which for a merged run is not the one that ran it. The run's own client
#: versions (Python and platform included) say what matters.
METADATA_DROPPED = ("Packages", "Plugins", "Python", "Platform")


def _page_report(config: pytest.Config) -> RunReport | None:
    state = run_state(config)
    return header(state) if state is not None else finished_report(config)


class HtmlPage:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_html_report_title(self, report) -> None:
        page = _page_report(self.config)
        if page is None:
            return
        report.title = html.title(page)
        report.set_data("initialSort", "control")
        report.outcomes["xfailed"]["label"] = "Waived"  # a waived failure is pytest's expected failure

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[1:1] = html.header_cells()
        cells[:] = [cell for cell in cells if ">Links<" not in cell]

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        case = case_of(self.config, report.nodeid)
        if case is not None and case.outcome == "waived":
            # pytest-html filters rows by the cell's text, one of its own outcomes: keep it, show "Waived"
            cells[0] = cells[0].replace('class="col-result"', f'class="col-result {html.WAIVED_CLASS}"')
        cells[1:1] = html.cells(case).values()
        cells[:] = [cell for cell in cells if 'class="col-links"' not in cell]

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        case = case_of(self.config, report.nodeid)
        if case is None:
            return
        logs = [] if case.outcome == "skipped" else [entry for entry in data if entry != "No log output captured."]
        data[:] = [html.details(case), *logs]

    def pytest_html_duration_format(self, duration: float) -> str:
        return html.duration(duration)

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list, session) -> None:
        report = finished_report(self.config)
        if report is None:
            return
        set_environment(self.config, report)  # again: xdist workers' metadata came back meanwhile
        prefix.extend(html.summary_prefix(report))
        postfix.extend(html.summary_postfix(report))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    report = _page_report(config)
    if not config.getoption("htmlpath", None) or hasattr(config, "workerinput") or report is None:
        return
    config.pluginmanager.register(HtmlPage(config), "stackproof-html-page")
    set_environment(config, report)


def set_environment(config: pytest.Config, report: RunReport) -> None:
    """pytest-metadata's environment table, which pytest-html shows (the same dict, updated in place)."""
    metadata = config.stash.get(metadata_key, None)
    if metadata is not None:
        for key in METADATA_DROPPED:
            metadata.pop(key, None)
        metadata.update(html.environment(report))
