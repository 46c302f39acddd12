"""The lab README's fault table is the registry's: every fault, with the controls it names, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from stackproof_lab.faults import FAULTS

README = Path(__file__).resolve().parents[1] / "stackproof_lab" / "README.md"
ROW = re.compile(r"^\| `(?P<name>[a-z0-9-]+)` \| .* \| (?P<controls>SP-[A-Z]+-\d{3}(?:, SP-[A-Z]+-\d{3})*) \|$")


def _table() -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = tuple(match["controls"].split(", "))
    return rows


def test_every_registered_fault_has_its_row_with_its_controls() -> None:
    table = _table()
    registry = {fault.name: fault.controls for fault in FAULTS}
    assert sorted(set(registry) - set(table)) == [], "faults missing from stackproof_stackproof_lab/README.md's table"
    assert sorted(set(table) - set(registry)) == [], "rows of stackproof_lab/README.md's table that are no fault"
    differing = {name: (table[name], controls) for name, controls in registry.items() if table[name] != controls}
    assert differing == {}, "rows whose controls differ from the registry's (README, registry)"
