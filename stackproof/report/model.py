"""The report model: what one run (or several merged) found, control by control.

evidence.json is this model serialised; `load()` reads it back from a report directory or the file. Every
renderer (JUnit, terminal, HTML, compare, merge) works from a `RunReport`, never from pytest's objects.

Format versions: 1 had no ``format_version`` (read with defaults); 2 adds the version, selection, waivers,
phases, interruption, deselected controls and the lab's fault catalogue.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stackproof import exitcodes
from stackproof.errors import StackproofError

FORMAT_VERSION = 2
EVIDENCE = "evidence.json"

#: Outcomes of one case. "waived": failed, under a waiver in force; "skipped": not evaluated, with a reason.
OUTCOMES = ("passed", "failed", "error", "waived", "skipped")
RED = frozenset({"failed", "error"})
EVALUATED = frozenset({"passed", "failed", "error", "waived"})
_VARIANT = re.compile(r"(\[.*\])$")


class ReportError(StackproofError):
    """A report directory or evidence file that cannot be read or combined."""


@dataclass
class Case:
    """One check's result: a control, or one parametrised variant of it."""

    nodeid: str
    control_id: str
    title: str
    statement: str
    tier: str
    area: str
    outcome: str = "passed"
    duration: float = 0.0
    reason: str | None = None  # skipped: why it was not evaluated
    message: str | None = None  # failed, error, waived: the failure as pytest reported it (redacted)
    expected: str | None = None
    found: str | None = None
    where: str | None = None
    measurements: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    waiver: dict[str, Any] | None = None

    @property
    def variant(self) -> str:
        """The parametrisation suffix of the node ID (``[kvm]``), or ""."""
        match = _VARIANT.search(self.nodeid.rsplit("::", 1)[-1])
        return match.group(1) if match else ""

    @property
    def case_id(self) -> str:
        """Stable across runs and file moves: the control ID and the variant."""
        return self.control_id + self.variant

    @property
    def name(self) -> str:
        """What a CI page shows: ``SP-AGG-003 Title`` with the variant kept."""
        return f"{self.control_id} {self.title}{self.variant}"

    @property
    def red(self) -> bool:
        return self.outcome in RED

    @property
    def headline(self) -> str:
        """One line on why a case is not green: its finding, or the exception pytest reported."""
        if self.outcome == "skipped":
            return f"not evaluated: {self.reason or 'no reason given'}"
        if self.found is not None:
            return f"found: {self.found}; where: {self.where}"
        lines = [line for line in (self.message or "").splitlines() if line.strip()]
        raised = [line[1:].strip() for line in lines if line.startswith("E ")]
        return (raised or lines or [self.outcome])[-1][:300]

    def to_dict(self) -> dict[str, Any]:
        # Shallow: asdict() deep-copies every request record, which dominates writing a large run.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("statement", "")
        values["measurements"] = values.get("measurements") or {}
        values["requests"] = values.get("requests") or []
        return cls(**values)


@dataclass
class RunReport:
    run_id: str
    target: dict[str, Any]
    started: float = 0.0
    finished: float = 0.0
    exit_status: int = 0
    interrupted: bool = False
    selection: dict[str, Any] = field(default_factory=dict)  # tier label, marker, areas, shard, phase
    service_versions: dict[str, Any] = field(default_factory=dict)
    client_versions: dict[str, str] = field(default_factory=dict)
    allow_disruptive: bool = False
    leaks: list[str] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    waivers: list[dict[str, Any]] = field(default_factory=list)
    fault_catalogue: list[dict[str, Any]] | None = None
    deselected: list[str] = field(default_factory=list)  # control IDs outside this run's selection
    cases: list[Case] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)  # merged runs: each part's run ID, exit, times
    merged_from: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things the run could not do, in one line each
    files_sha256: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    # -- reading --------------------------------------------------------------------------------------
    @property
    def target_name(self) -> str:
        return str(self.target.get("name", "?"))

    @property
    def tier_label(self) -> str:
        label = self.selection.get("tier")
        if label:
            return str(label)
        tiers = sorted({c.tier for c in self.cases})
        return "+".join(tiers) or "none"

    @property
    def stackproof_version(self) -> str:
        return str(self.client_versions.get("stackproof", "?"))

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)

    def sorted_cases(self) -> list[Case]:
        return sorted(self.cases, key=lambda c: (c.control_id, c.variant, c.nodeid))

    def counts(self) -> Counter:
        return Counter(c.outcome for c in self.cases)

    def by_area(self) -> dict[str, Counter]:
        areas: dict[str, Counter] = {}
        for case in self.cases:
            areas.setdefault(case.area, Counter())[case.outcome] += 1
        return dict(sorted(areas.items()))

    def expired_waivers(self) -> list[dict[str, Any]]:
        return [w for w in self.waivers if w.get("status") == "expired"]

    @property
    def cleanup_command(self) -> str:
        return f"stackproof cleanup --run-id {self.run_id}"

    def exit_code(self) -> int:
        """The run's exit code, from what it found (the README's table).

        A part that ended with pytest's interrupted, internal or usage code keeps it; otherwise red, leaks,
        failed cleanups and expired waivers fail the run, and a run that evaluated nothing fails with its
        own code.
        """
        statuses = [int(p.get("exit_status", 0)) for p in self.phases] or [int(self.exit_status)]
        if self.interrupted:
            return exitcodes.INTERRUPTED
        for code in (exitcodes.INTERNAL, exitcodes.BAD_INPUT, exitcodes.INTERRUPTED):
            if code in statuses:
                return code
        if (any(c.red for c in self.cases) or self.leaks or self.cleanup_errors or self.expired_waivers()
                or exitcodes.FAILED in statuses):
            return exitcodes.FAILED
        if not any(c.outcome in EVALUATED for c in self.cases):
            return exitcodes.NOTHING_EVALUATED if (self.cases or self.deselected) else exitcodes.NOTHING_COLLECTED
        return exitcodes.OK

    # -- serialising ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cases"}
        data["controls"] = [c.to_dict() for c in self.sorted_cases()]
        # What an operator runs next when the run left something behind (or may have: interrupted).
        data["cleanup_command"] = self.cleanup_command if (self.leaks or self.interrupted) else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        known = {f.name for f in fields(cls)} - {"cases"}
        values = {k: v for k, v in data.items() if k in known}
        values["format_version"] = int(data.get("format_version", 1))
        values.setdefault("target", {})
        cases = [Case.from_dict(entry) for entry in data.get("controls", [])]
        return cls(**values, cases=cases)


def to_json(report: RunReport) -> str:
    """evidence.json's text: the run's fields one per line, each control on a line of its own (readable,
    diffable, and written by json's C encoder, which indenting would turn off)."""
    data = report.to_dict()
    cases = data.pop("controls")
    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    lines = [f"  {json.dumps(key)}: {dump(value)}" for key, value in sorted(data.items())]
    body = ",\n".join(f"    {dump(case)}" for case in cases)
    lines.append(f'  "controls": [\n{body}\n  ]' if cases else '  "controls": []')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def evidence_path(source: Path | str) -> Path:
    """A report directory or an evidence file, as the user named it."""
    path = Path(source)
    return path / EVIDENCE if path.is_dir() else path


def load(source: Path | str) -> RunReport:
    path = evidence_path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{source}: no {EVIDENCE} there (is it a run's report directory?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable evidence file: {exc}") from None
    if not isinstance(data, dict) or "run_id" not in data or "controls" not in data:
        raise ReportError(f"{path}: not a stackproof evidence file (no run_id and controls)")
    version = int(data.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise ReportError(f"{path}: evidence format {version} is newer than this stackproof reads "
                          f"({FORMAT_VERSION}); upgrade stackproof")
    return RunReport.from_dict(data)
