"""Pictures for the HTML report, as inline SVG: where people would rather look than read.

- The detection matrix: the lab's faults (rows) against the controls (columns), a mark where a fault must
  turn a control red. A run against the lab with faults active shows what it caught (red) and what it
  missed (outlined); a control column without any mark is one no fault proves yet.
- The measures: the timings disruptive checks record (``measure.*_seconds``) as bars against nova's own
  bounds (``*_bound_seconds``, a tick; a bar past it is red) and reference intervals (dashed).
"""

from __future__ import annotations

from html import escape
from typing import Any

from stackproof.report.model import RunReport

CELL = 16
RED, GREEN, GREY, AMBER, INK = "#c0392b", "#2e8b57", "#b8b8b8", "#d68910", "#333"
#: A control that went red under an active fault caught it; a waived failure is still a failure.
CAUGHT = frozenset({"failed", "error", "waived"})
OUTCOME_COLOURS = {"passed": GREEN, "failed": RED, "error": RED, "waived": AMBER, "skipped": GREY}


def _text(x: float, y: float, content: str, **attrs: Any) -> str:
    extra = " ".join(f'{k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" {extra}>{escape(content)}</text>'


def detection_matrix(report: RunReport) -> str | None:
    catalogue = report.fault_catalogue
    if not catalogue:
        return None
    outcome = {}
    for case in report.sorted_cases():
        # a control is red when any of its variants is
        if outcome.get(case.control_id) not in CAUGHT:
            outcome[case.control_id] = case.outcome
    controls = sorted({c for fault in catalogue for c in fault.get("controls", [])} | set(outcome))
    label_width = 8 + 7 * max(len(f["name"]) for f in catalogue)
    top = 92
    width = max(label_width + CELL * len(controls) + 20, 720)  # the legend needs the room
    height = top + CELL * len(catalogue) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sp-matrix" role="img" width="{width}" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             "<title>Detection matrix: lab faults (rows) against the controls they turn red (columns)</title>"]
    for col, control in enumerate(controls):
        x = label_width + col * CELL + CELL / 2
        colour = OUTCOME_COLOURS.get(outcome.get(control, ""), INK)
        parts.append(f'<text transform="translate({x + 4:.1f},{top - 6}) rotate(-60)" fill="{colour}">'
                     f"{escape(control)}</text>")
    for row, fault in enumerate(catalogue):
        y = top + row * CELL
        active = bool(fault.get("active"))
        if active:
            parts.append(f'<rect x="0" y="{y}" width="{width - 20}" height="{CELL}" fill="#fdecea"/>')
        parts.append(_text(label_width - 6, y + CELL - 4, fault["name"], text_anchor="end",
                           font_weight="bold" if active else "normal"))
        named = set(fault.get("controls", []))
        for col, control in enumerate(controls):
            x = label_width + col * CELL
            tip = f"{fault['name']} → {control}"
            if control not in named:
                parts.append(f'<rect x="{x + 7}" y="{y + 7}" width="2" height="2" fill="#ddd"/>')
                continue
            if not active:
                fill, stroke = "#7f8c8d", "none"
            elif outcome.get(control) in CAUGHT:
                fill, stroke, tip = RED, "none", tip + ": detected"
            else:
                fill, stroke, tip = "white", RED, tip + f": missed ({outcome.get(control, 'not run')})"
            parts.append(f'<rect x="{x + 2}" y="{y + 2}" width="{CELL - 4}" height="{CELL - 4}" fill="{fill}" '
                         f'stroke="{stroke}" stroke-width="2"><title>{escape(tip)}</title></rect>')
    legend_y = top + len(catalogue) * CELL + 24
    parts.append(_text(0, legend_y, "grey: the fault turns this control red · red: active fault, caught · "
                                    "outlined: active fault, missed · column colour: this run's outcome"))
    parts.append("</svg>")
    return "".join(parts)


def _numeric(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def measures_chart(report: RunReport) -> str | None:
    groups = []
    for case in report.sorted_cases():
        values = {k: _numeric(v) for k, v in case.measurements.items()}
        values = {k: v for k, v in values.items() if v is not None and k.endswith("_seconds")}
        bars = [(k, v, values.get(k.removesuffix("_seconds") + "_bound_seconds")) for k, v in sorted(values.items())
                if not k.endswith(("_bound_seconds", "_interval_seconds"))]
        references = [(k, v) for k, v in sorted(values.items()) if k.endswith("_interval_seconds")]
        if bars:
            groups.append((case, bars, references))
    if not groups:
        return None
    label_width, plot_width, bar = 230, 440, 14
    height = sum(30 + len(bars) * (bar + 6) for _case, bars, _refs in groups) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sp-measures" role="img" '
             f'width="{label_width + plot_width + 90}" height="{height}" font-family="sans-serif" font-size="11">',
             "<title>Failover measures against nova's bounds</title>"]
    y = 0
    for case, bars, references in groups:
        scale_max = max([v for _k, v, _b in bars] + [b for _k, _v, b in bars if b] + [v for _k, v in references])
        scale = plot_width / (scale_max * 1.1 or 1)
        parts.append(_text(0, y + 16, f"{case.case_id} {case.title}", font_weight="bold"))
        y += 26
        top = y
        for key, value, bound in bars:
            over = bound is not None and value > bound
            colour = RED if over else GREEN if bound is not None else "#5d6d7e"
            parts.append(_text(label_width - 6, y + bar - 3, key.removesuffix("_seconds").replace("_", " "),
                               text_anchor="end"))
            parts.append(f'<rect x="{label_width}" y="{y}" width="{max(1.0, value * scale):.1f}" height="{bar}" '
                         f'fill="{colour}"><title>{escape(f"{key}: {value:g} s")}</title></rect>')
            note = f"{value:g} s"
            if bound is not None:
                bx = label_width + bound * scale
                parts.append(f'<line x1="{bx:.1f}" y1="{y - 2}" x2="{bx:.1f}" y2="{y + bar + 2}" stroke="{INK}" '
                             f'stroke-width="2"><title>nova\'s bound: {bound:g} s</title></line>')
                note += f" (bound {bound:g} s)"
            parts.append(_text(label_width + max(value, bound or 0) * scale + 6, y + bar - 3, note))
            y += bar + 6
        for key, value in references:
            rx = label_width + value * scale
            parts.append(f'<line x1="{rx:.1f}" y1="{top - 4}" x2="{rx:.1f}" y2="{y}" stroke="{INK}" '
                         f'stroke-dasharray="4 3"><title>{escape(key)}: {value:g} s</title></line>')
            parts.append(_text(rx + 3, top - 6, f"{key.removesuffix('_seconds').replace('_', ' ')} {value:g} s"))
        y += 4
    parts.append("</svg>")
    return "".join(parts)
