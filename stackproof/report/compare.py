"""`stackproof compare RUN_A RUN_B`: what changed between two runs, control by control.

Cases are matched by control ID and variant (stable across file moves). Newly red, a new control that is
red, and a control slower beyond the threshold are regressions (exit 1); fixed, still red, new and removed
controls are listed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackproof import exitcodes
from stackproof.report.model import Case, RunReport

#: Slower means more than this fraction slower *and* at least MIN_SECONDS slower: small checks jitter.
THRESHOLD = 0.5
MIN_SECONDS = 2.0


@dataclass
class Comparison:
    a: RunReport
    b: RunReport
    newly_red: list[tuple[Case, Case]] = field(default_factory=list)
    fixed: list[tuple[Case, Case]] = field(default_factory=list)
    still_red: list[tuple[Case, Case]] = field(default_factory=list)
    slower: list[tuple[Case, Case]] = field(default_factory=list)
    new: list[Case] = field(default_factory=list)
    removed: list[Case] = field(default_factory=list)

    @property
    def regression(self) -> bool:
        return bool(self.newly_red or self.slower or any(c.red for c in self.new))

    def exit_code(self) -> int:
        return exitcodes.FAILED if self.regression else exitcodes.OK


def compare(a: RunReport, b: RunReport, threshold: float = THRESHOLD, min_seconds: float = MIN_SECONDS) -> Comparison:
    before = {c.case_id: c for c in a.sorted_cases()}
    after = {c.case_id: c for c in b.sorted_cases()}
    result = Comparison(a, b)
    for key, new in after.items():
        old = before.get(key)
        if old is None:
            result.new.append(new)
        elif new.red and not old.red:
            result.newly_red.append((old, new))
        elif old.red and new.outcome == "passed":
            result.fixed.append((old, new))
        elif old.red and new.red:
            result.still_red.append((old, new))
        elif (old.outcome == new.outcome == "passed" and new.duration > old.duration * (1 + threshold)
              and new.duration - old.duration >= min_seconds):
            result.slower.append((old, new))
    result.removed = [c for key, c in before.items() if key not in after]
    return result


def render(result: Comparison, threshold: float = THRESHOLD) -> list[str]:
    a, b = result.a, result.b
    lines = [f"comparing run {a.run_id} ({a.target_name}, {a.tier_label}) with run {b.run_id} "
             f"({b.target_name}, {b.tier_label})"]
    if a.target_name != b.target_name:
        lines.append(f"note: the runs are of different targets ({a.target_name}, {b.target_name})")

    def section(heading: str, rows: list[str]) -> None:
        lines.append(f"{heading}: {len(rows)}")
        lines.extend(f"  {row}" for row in rows)

    section("newly red", [f"{n.case_id} {n.outcome} (was {o.outcome}): {n.title} — {n.headline}"
                          for o, n in result.newly_red])
    section("fixed", [f"{n.case_id} passed (was {o.outcome}): {n.title}" for o, n in result.fixed])
    section("still red", [f"{n.case_id} {n.outcome}: {n.title} — {n.headline}" for _o, n in result.still_red])
    section(f"slower by more than {threshold:.0%}",
            [f"{n.case_id} {o.duration:.1f} s -> {n.duration:.1f} s: {n.title}" for o, n in result.slower])
    section("new controls", [f"{c.case_id} {c.outcome}: {c.title}" for c in result.new])
    section("removed controls", [f"{c.case_id} (was {c.outcome}): {c.title}" for c in result.removed])
    lines.append("regression" if result.regression else "no regression")
    return lines
