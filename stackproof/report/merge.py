"""Several report directories into one: the phases of one `stackproof run`, or the shards of a CI matrix.

The parts must be of the same target, stackproof version and cloud (service versions), and no control case
may appear in two of them; anything else is refused in one line. The merged run has one run ID: the parts'
own when they share it (the phases of one run), else a new one that lists the parts.
"""

from __future__ import annotations

from pathlib import Path

from stackproof import reports
from stackproof.report.model import ReportError, RunReport, evidence_path, load
from stackproof.report.waivers import APPLIED, EXPIRED

# What a waiver's merged status is when the parts disagree: the strongest statement wins.
_WAIVER_RANK = {EXPIRED: 3, APPLIED: 2}


def _check_compatible(parts: list[tuple[str, RunReport]]) -> None:
    first_label, first = parts[0]
    for label, part in parts[1:]:
        for what, mine, theirs in (
            ("target", first.target_name, part.target_name),
            ("stackproof version", first.stackproof_version, part.stackproof_version),
            ("service versions", first.service_versions, part.service_versions),
        ):
            if mine != theirs:
                shown = (mine, theirs) if what != "service versions" else ("one cloud", "another")
                raise ReportError(f"cannot merge {first_label} and {label}: different {what} "
                                  f"({shown[0]} / {shown[1]})")
    owners: dict[str, str] = {}
    for label, part in parts:
        for case in part.cases:
            if case.nodeid in owners:
                raise ReportError(f"cannot merge: {case.case_id} ({case.nodeid}) is in both {owners[case.nodeid]} "
                                  f"and {label}")
            owners[case.nodeid] = label


def _waivers(parts: list[RunReport]) -> list[dict]:
    merged: dict[str, dict] = {}
    for part in parts:
        for waiver in part.waivers:
            seen = merged.get(waiver["control"])
            if seen is None or _WAIVER_RANK.get(waiver["status"], 0) > _WAIVER_RANK.get(seen["status"], 0):
                merged[waiver["control"]] = dict(waiver)
    return list(merged.values())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def merge(parts: list[tuple[str, RunReport]], run_id: str | None = None) -> RunReport:
    """Merge (label, report) parts; the label names a part in messages and in the merged record."""
    if not parts:
        raise ReportError("nothing to merge")
    _check_compatible(parts)
    reports_only = [part for _label, part in parts]
    first = reports_only[0]
    shared = {p.run_id for p in reports_only}
    tiers = _unique([p.tier_label for p in reports_only])
    present = {c.control_id for p in reports_only for c in p.cases}
    selection = {"tier": tiers[0] if len(tiers) == 1 else "+".join(tiers)}
    shards = _unique([str(p.selection["shard"]) for p in reports_only if p.selection.get("shard")])
    if shards:
        selection["shards"] = shards
    asked = _unique([str(p.selection["controls"]) for p in reports_only if p.selection.get("controls")])
    if asked:
        selection["controls"] = asked[0] if len(asked) == 1 else asked
    merged = RunReport(
        run_id=run_id or (first.run_id if len(shared) == 1 else reports.new_run_id()),
        target=dict(first.target),
        started=min(p.started for p in reports_only),
        finished=max(p.finished for p in reports_only),
        interrupted=any(p.interrupted for p in reports_only),
        selection=selection,
        service_versions=first.service_versions,
        client_versions=first.client_versions,
        allow_disruptive=any(p.allow_disruptive for p in reports_only),
        leaks=_unique([leak for p in reports_only for leak in p.leaks]),
        cleanup_errors=_unique([e for p in reports_only for e in p.cleanup_errors]),
        waivers=_waivers(reports_only),
        fault_catalogue=next((p.fault_catalogue for p in reports_only if p.fault_catalogue), None),
        deselected=sorted({c for p in reports_only for c in p.deselected} - present),
        cases=[case for p in reports_only for case in p.cases],
        phases=[{"run_id": p.run_id, "label": label, "exit_status": p.exit_code(), "started": p.started,
                 "finished": p.finished, "interrupted": p.interrupted, "selection": p.selection}
                for label, p in parts],
        merged_from=[{"run_id": p.run_id, "label": label} for label, p in parts],
        notes=_unique([note for p in reports_only for note in p.notes]),
    )
    versions = {tuple(sorted(p.client_versions.items())) for p in reports_only}
    if len(versions) > 1:
        merged.notes.append("the parts ran with different client library versions; the first part's are shown")
    merged.exit_status = merged.exit_code()
    return merged


def load_parts(sources: list[str | Path]) -> list[tuple[str, RunReport]]:
    return [(str(evidence_path(source).parent), load(source)) for source in sources]
