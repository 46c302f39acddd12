"""The terminal after pytest's progress line: a summary by control (stackproof/report/terminal.py)."""

from __future__ import annotations

import pytest

from stackproof import exitcodes
from stackproof.plugin.report import finished_report
from stackproof.report import terminal


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    report = finished_report(config)
    if report is None:
        return
    terminalreporter.write_sep(
        "=", f"stackproof: run {report.run_id} against {report.target_name} ({report.tier_label})")
    for line in terminal.summary(report):
        terminalreporter.write_line(line.text, **({line.style: True} if line.style else {}))
    code = report.exit_code()
    terminalreporter.write_line(f"exit code {code}: {exitcodes.MEANING[code]}",
                                bold=True, red=code not in (exitcodes.OK,))
