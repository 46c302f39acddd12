"""The HTML report's content from the report model; pytest-html draws the page (stackproof/plugin/html.py).

Everything a person reads on the page comes from here: the title with target and run ID, the environment
(target, stackproof, client and service versions), the per-area summary, waivers, leaks, the pictures, and
per row the control, title, area and tier columns and the finding (expected, found, where, request IDs).
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from stackproof.report import charts
from stackproof.report.model import OUTCOMES, Case, RunReport
from stackproof.report.terminal import totals

#: Columns added to pytest-html's table, in order after "Result": (key, heading, sortable).
COLUMNS = (("control", "Control", True), ("title", "Title", False), ("area", "Area", True),
           ("tier", "Tier", True))

WAIVED_CLASS = "sp-waived-result"

CSS = """
.sp-table { border-collapse: collapse; margin: 6px 0 14px; }
.sp-table th, .sp-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
.sp-finding th { width: 8em; white-space: nowrap; }
td.col-control, td.col-tier, td.col-area { white-space: nowrap; font-family: monospace; }
.sp-failed, .sp-error, .sp-expired { color: #c0392b; font-weight: bold; }
.sp-waived { color: #b9770e; font-weight: bold; }
.sp-notice { border-left: 4px solid #c0392b; padding: 4px 10px; background: #fdecea; }
.sp-reason { white-space: pre-wrap; }
p.run-count { display: none; }
td.sp-waived-result { font-size: 0; }
td.sp-waived-result::after { content: "Waived"; font-size: 12px; }
"""


def title(report: RunReport) -> str:
    return f"stackproof · {report.target_name} · run {report.run_id}"


def duration(seconds: float) -> str:
    """The page's one duration format, HH:MM:SS.ss (pytest-html sorts it as such)."""
    seconds = max(0.0, float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:05.2f}"


def _services(versions: dict[str, Any]) -> dict[str, str]:
    rows = {}
    for service, info in sorted(versions.items()):
        if not isinstance(info, dict):
            continue
        if info.get("error"):
            rows[service] = f"error: {info['error']}"
            continue
        text = f"API {info.get('api_version') or '?'}"
        if info.get("max_microversion"):
            text += f", microversions up to {info['max_microversion']}"
        rows[service] = f"{text} ({info.get('url', '')})"
    return rows


def environment(report: RunReport) -> dict[str, Any]:
    """The environment table: plain strings and one level of key: value lists, no internal objects."""
    env: dict[str, Any] = {
        "Target": f"{report.target_name} ({report.target.get('source', '')})",
        "Run ID": report.run_id,
        "Tier": report.tier_label,
        "stackproof": report.stackproof_version,
        "Client versions": {k: v for k, v in sorted(report.client_versions.items()) if k != "stackproof"},
    }
    if report.selection.get("shard"):
        env["Shard"] = report.selection["shard"]
    if report.merged_from:
        env["Merged from"] = {part["run_id"]: part.get("label", "") for part in report.merged_from}
    for entry, info in sorted(report.service_versions.items()):
        role = info.get("role", "") if isinstance(info, dict) else ""
        env[f"Services of {entry} ({role})" if role else f"Services of {entry}"] = _services(info)
    return env


def cells(case: Case | None) -> dict[str, str]:
    """The added columns of one row; pytest-html reads a sortable column's value from its cell."""
    if case is None:
        return {key: f'<td class="col-{key}"></td>' for key, _heading, _sortable in COLUMNS}
    values = {"control": case.case_id, "title": case.title, "area": case.area, "tier": case.tier}
    return {key: f'<td class="col-{key}">{escape(values[key])}</td>' for key, _heading, _sortable in COLUMNS}


def header_cells() -> list[str]:
    return [f'<th class="sortable" data-column-type="{key}">{heading}</th>' if sortable else f"<th>{heading}</th>"
            for key, heading, sortable in COLUMNS]


def _table(rows: list[tuple[str, str]], css: str = "sp-table sp-finding") -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{css}">{body}</table>'


def details(case: Case) -> str:
    """What opens under a row: the statement, the finding, the waiver, the requests behind a red check."""
    rows = [("Statement", escape(case.statement))]
    if case.outcome == "skipped":
        rows.append(("Not evaluated", f'<span class="sp-reason">{escape(case.reason or "no reason given")}</span>'))
    for label, value in (("Expected", case.expected), ("Found", case.found), ("Where", case.where)):
        if value is not None:
            rows.append((label, escape(value)))
    if case.waiver:
        rows.append(("Waiver", f'<span class="sp-waived">waived until {escape(str(case.waiver.get("expires")))}'
                               f"</span>: {escape(str(case.waiver.get('justification')))}"))
    if case.measurements:
        rows.append(("Measures", escape(", ".join(f"{k} = {v}" for k, v in sorted(case.measurements.items())))))
    requests = [r for r in case.requests if r.get("request_id")]
    if requests and case.outcome in ("failed", "error", "waived"):
        listed = "<br>".join(escape(f"{r.get('method')} {r.get('path')} → {r.get('status') or r.get('error')} "
                                    f"({r['request_id']})") for r in requests[-20:])
        rows.append((f"Requests ({len(requests)})", listed))
    return _table(rows)


def _area_table(report: RunReport) -> str:
    areas = report.by_area()
    shown = [o for o in OUTCOMES if any(counts[o] for counts in areas.values())]
    head = "".join(f"<th>{'not evaluated' if o == 'skipped' else o}</th>" for o in shown)
    body = ""
    for area, counts in areas.items():
        row = "".join(f'<td class="sp-{o}">{counts[o]}</td>' if counts[o] and o in ("failed", "error", "waived")
                      else f"<td>{counts[o]}</td>" for o in shown)
        body += f"<tr><th>{escape(area)}</th>{row}</tr>"
    total = Counter()
    for counts in areas.values():
        total.update(counts)
    body += "<tr><th>all</th>" + "".join(f"<td>{total[o]}</td>" for o in shown) + "</tr>"
    return f'<h3>By area</h3><table class="sp-table"><tr><th>area</th>{head}</tr>{body}</table>'


def _waiver_table(report: RunReport) -> str:
    if not report.waivers:
        return ""
    rows = "".join(
        f"<tr><td>{escape(w['control'])}</td><td class=\"sp-{escape(w['status']).replace(' ', '-')}\">"
        f"{escape(w['status'])}</td><td>{escape(str(w['expires']))}</td><td>{escape(w['justification'])}</td>"
        f"<td>{escape(', '.join(f'{k}={v}' for k, v in (w.get('scope') or {}).items()))}</td></tr>"
        for w in report.waivers)
    return ('<h3>Waivers</h3><table class="sp-table"><tr><th>control</th><th>status</th><th>expires</th>'
            f"<th>justification</th><th>scope</th></tr>{rows}</table>")


def _notices(report: RunReport) -> str:
    notes = []
    if report.interrupted:
        notes.append("The run was interrupted: controls not reached are missing from this report.")
    if report.leaks:
        notes.append("Left in the cloud after the run: " + "; ".join(report.leaks))
    if report.leaks or report.interrupted:
        notes.append(f"Remove what is left with: <code>{escape(report.cleanup_command)}</code>")
    for waiver in report.expired_waivers():
        notes.append(f"The waiver for {waiver['control']} expired on {waiver['expires']}: the run fails until it "
                     "is renewed or removed.")
    notes += report.notes
    return "".join(f'<p class="sp-notice">{n if "<code>" in n else escape(n)}</p>' for n in notes)


def summary_prefix(report: RunReport) -> list[str]:
    headline = (f"<p><b>{escape(totals(report))}</b> · exit code {report.exit_code()} · "
                f"took {duration(report.duration)}</p>")
    return [f"<style>{CSS}</style>", headline, _notices(report), _area_table(report), _waiver_table(report)]


def summary_postfix(report: RunReport) -> list[str]:
    parts = []
    matrix = charts.detection_matrix(report)
    if matrix:
        parts.append(f"<h3>Detection matrix</h3>{matrix}")
    measures = charts.measures_chart(report)
    if measures:
        parts.append(f"<h3>Failover measures against nova's bounds</h3>{measures}")
    return parts
