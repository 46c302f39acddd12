"""Controls: the stable identity of a check, and the rules every check must follow.

A check is a test function under ``suites/`` carrying::

    @pytest.mark.control("SP-AGG-003", title="...", statement="<the architecture sentence it verifies>")
    @pytest.mark.readonly            # exactly one tier: readonly | workload | disruptive
    @pytest.mark.placement           # exactly one area

The ID never changes once published: reports across runs, waivers and auditors key on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

TIERS = ("readonly", "workload", "disruptive")
AREAS = ("nested", "placement", "vmdk", "nsx", "block_storage", "failover")
# The area code inside a control ID, per area marker.
AREA_CODES = {
    "nested": "NEST",
    "placement": "AGG",
    "vmdk": "VMDK",
    "nsx": "NSX",
    "block_storage": "BLK",
    "failover": "FO",
}
ID_PATTERN = re.compile(r"^SP-(?P<code>[A-Z]{2,5})-(?P<number>\d{3})$")


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    statement: str
    tier: str
    area: str
    nodeid: str

    def as_properties(self, target: str | None) -> list[tuple[str, str]]:
        """The per-case properties written into the JUnit report."""
        props = [
            ("control_id", self.id),
            ("title", self.title),
            ("statement", self.statement),
            ("tier", self.tier),
            ("area", self.area),
        ]
        if target is not None:
            props.append(("target", target))
        return props

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ControlError(Exception):
    """A check breaks the control rules; collection stops with this message."""


def _marker_names(item) -> set[str]:
    return {mark.name for mark in item.iter_markers()}


def control_of(item) -> Control:
    """Read and validate the control metadata of one collected check."""
    where = item.nodeid
    mark = item.get_closest_marker("control")
    if mark is None:
        raise ControlError(f"{where}: no @pytest.mark.control(ID, title=..., statement=...)")
    if len(mark.args) != 1 or not isinstance(mark.args[0], str):
        raise ControlError(f"{where}: control marker takes exactly one positional argument, the control ID")
    control_id = mark.args[0]
    match = ID_PATTERN.match(control_id)
    if not match:
        raise ControlError(f"{where}: control ID {control_id!r} does not match SP-<AREA>-<NNN>")
    unknown = set(mark.kwargs) - {"title", "statement"}
    if unknown:
        raise ControlError(f"{where}: control {control_id}: unknown field(s) {', '.join(sorted(unknown))}")
    title = str(mark.kwargs.get("title", "")).strip()
    statement = str(mark.kwargs.get("statement", "")).strip()
    if not title or not statement:
        raise ControlError(f"{where}: control {control_id}: needs a non-empty title and statement")
    names = _marker_names(item)
    tiers = [t for t in TIERS if t in names]
    if len(tiers) != 1:
        found = ", ".join(tiers) or "none"
        raise ControlError(f"{where}: control {control_id}: needs exactly one tier marker of {TIERS}, found {found}")
    areas = [a for a in AREAS if a in names]
    if len(areas) != 1:
        found = ", ".join(areas) or "none"
        raise ControlError(f"{where}: control {control_id}: needs exactly one area marker of {AREAS}, found {found}")
    if match["code"] != AREA_CODES[areas[0]]:
        raise ControlError(
            f"{where}: control {control_id}: area {areas[0]} uses IDs SP-{AREA_CODES[areas[0]]}-NNN"
        )
    return Control(control_id, title, statement, tiers[0], areas[0], item.nodeid)


def collect_controls(items: Iterable) -> dict[str, Control]:
    """Validate a whole collection: every check a control, every control ID once.

    Parametrised variants of one function share its control (they verify the same statement); two
    different functions may not.
    """
    controls: dict[str, Control] = {}
    owners: dict[str, str] = {}
    problems: list[str] = []
    for item in items:
        try:
            control = control_of(item)
        except ControlError as exc:
            problems.append(str(exc))
            continue
        function = item.nodeid.split("[", 1)[0]
        owner = owners.setdefault(control.id, function)
        if owner != function:
            problems.append(f"{item.nodeid}: duplicate control ID {control.id} (already used by {owner})")
            continue
        controls[item.nodeid] = control
    if problems:
        raise ControlError("; ".join(problems))
    return controls


def table(controls: Iterable[Control]) -> str:
    """A plain-text table of unique controls, sorted by ID."""
    unique = {c.id: c for c in controls}
    rows = [("ID", "TIER", "AREA", "TITLE")] + [
        (c.id, c.tier, c.area, c.title) for c in sorted(unique.values(), key=lambda c: c.id)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}" for row in rows
    )
