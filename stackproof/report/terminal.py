"""The terminal's summary by control, after pytest's progress line: what an operator reads at 3 a.m.

One line per control (variant): ID, outcome, title; a failure adds its found and where lines, a skipped
control says "not evaluated: <reason>", a waived one its waiver. Then waivers, leaks and the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackproof.report.model import Case, RunReport
from stackproof.report.waivers import EXPIRED

WORDS = {"passed": "passed", "failed": "FAILED", "error": "ERROR", "waived": "waived", "skipped": "skipped"}
STYLES = {"passed": "green", "failed": "red", "error": "red", "waived": "yellow", "skipped": "yellow"}


@dataclass(frozen=True)
class Line:
    text: str
    style: str | None = None  # a colour name the terminal writer knows, or plain


def _detail(case: Case) -> list[str]:
    if case.outcome == "passed":
        return []
    details: list[str] = []
    if case.outcome == "waived" and case.waiver:
        details.append(f"waived until {case.waiver.get('expires')}: {case.waiver.get('justification')}")
    if case.found is not None:
        return [*details, f"found: {case.found}", f"where: {case.where}"]
    return [*details, case.headline]


def summary(report: RunReport) -> list[Line]:
    cases = report.sorted_cases()
    width = max((len(c.case_id) for c in cases), default=10)
    indent = " " * (width + 11)
    lines: list[Line] = []
    for case in cases:
        style = STYLES[case.outcome] if case.outcome != "passed" else None
        lines.append(Line(f"{case.case_id:<{width}}  {WORDS[case.outcome]:<7}  {case.title}", style))
        lines += [Line(indent + text, style) for text in _detail(case)]
    for waiver in report.waivers:
        text = f"waiver {waiver['control']}: {waiver['status']} (expires {waiver['expires']})"
        if waiver["status"] == EXPIRED:
            text = (f"waiver {waiver['control']} expired on {waiver['expires']}: the run fails until it is "
                    "renewed or removed")
        lines.append(Line(text, "red" if waiver["status"] == EXPIRED else None))
    if report.leaks:
        lines.append(Line(f"left in the cloud: {'; '.join(report.leaks)}", "red"))
    if report.leaks or report.interrupted:
        lines.append(Line(f"remove what is left with: {report.cleanup_command}", "red" if report.leaks else None))
    lines.append(Line(totals(report)))
    return lines


def totals(report: RunReport) -> str:
    counts = report.counts()
    parts = [f"{counts[o]} {'not evaluated' if o == 'skipped' else o}" for o in WORDS if counts[o]]
    text = ", ".join(parts) or "no control evaluated"
    if report.deselected:
        text += f"; {len(set(report.deselected))} control(s) outside this run's selection"
    return text
