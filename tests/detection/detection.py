"""The detection harness: inject a lab fault, run an area's checks, and read back which controls went red.

Each area's detection test module declares, per fault, the text its failure message must contain (the
faulty object: an aggregate, a key, a cluster, a datastore). The controls a fault must turn red come from
the lab's own fault registry, so the registry and the proof cannot drift apart.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600
SETTLE_INTERVAL = 3.0


@dataclass(frozen=True)
class AreaRun:
    exit_code: int
    outcomes: dict[str, dict]  # control ID -> outcome entry of evidence.json
    output: str

    def red(self) -> set[str]:
        return {cid for cid, o in self.outcomes.items() if o["outcome"] in ("failed", "error")}

    def not_passed(self, expected_skips: dict[str, str] | None = None) -> dict[str, str]:
        """Controls that did not pass, except those of `expected_skips` (control ID -> text of its reason) that
        were not evaluated for that reason: what the lab cannot provide yet, said as the control says it."""
        skips = expected_skips or {}
        return {cid: o["outcome"] for cid, o in self.outcomes.items() if o["outcome"] != "passed"
                and not (o["outcome"] == "skipped" and cid in skips and skips[cid] in (o.get("reason") or ""))}

    def message(self, control_id: str) -> str:
        return self.outcomes[control_id].get("message", "")


@functools.lru_cache(maxsize=1)
def lab_faults() -> dict[str, dict]:
    result = subprocess.run([sys.executable, "-m", "stackproof_lab", "fault", "list", "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {fault["name"]: fault for fault in json.loads(result.stdout)}


@functools.lru_cache(maxsize=64)
def area_controls(area: str, *, disruptive: bool = True, tier: str | None = None) -> frozenset[str]:
    """The area's control IDs (of one tier when `tier` is given); without the disruptive ones when `disruptive`
    is false."""
    result = subprocess.run([sys.executable, "-m", "stackproof.cli", "controls", "--json", "--area", area],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return frozenset(control["id"] for control in json.loads(result.stdout)
                     if (disruptive or control["tier"] != "disruptive") and (tier is None or control["tier"] == tier))


def run_area(lab, area: str, reports: Path, tier: str = "full", controls: frozenset[str] = frozenset()) -> AreaRun:
    """Run the area at `tier` (only `controls`, when given); "all" includes the disruptive checks, with the
    opt-in for the lab target."""
    run_id = f"det{uuid.uuid4().hex[:8]}"
    opt_in = []
    if tier == "all":
        opt_in = [f"--allow-disruptive={yaml.safe_load(lab.target_yaml.read_text())['name']}"]
    result = subprocess.run(
        [sys.executable, "-m", "stackproof.cli", "run", "--tier", tier, "--area", area, "--target",
         str(lab.target_yaml), "--run-id", run_id, *opt_in,
         *(arg for control_id in sorted(controls) for arg in ("--control", control_id)),
         "--", "--reports-dir", str(reports), "-W", "ignore"],
        cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    evidence = reports / run_id / "evidence.json"
    assert evidence.is_file(), f"no evidence for run {run_id}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    controls = json.loads(evidence.read_text())["controls"]
    return AreaRun(result.returncode, by_control(controls), result.stdout + result.stderr)


RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def by_control(entries: list[dict]) -> dict[str, dict]:
    """One outcome per control: parametrised variants of a check are one control, red when any variant is,
    with the messages of every variant that did not pass."""
    merged: dict[str, dict] = {}
    for entry in entries:
        seen = merged.get(entry["control_id"])
        if seen is None:
            merged[entry["control_id"]] = dict(entry)
            continue
        if RANK.get(entry["outcome"], 3) > RANK.get(seen["outcome"], 3):
            seen["outcome"] = entry["outcome"]
        seen["message"] = "\n".join(m for m in (seen.get("message", ""), entry.get("message", "")) if m)
    return merged


def inject(lab, name: str) -> None:
    result = lab.run("fault", "inject", name, timeout=300)
    assert result.returncode == 0, f"inject {name} failed: {result.stdout}\n{result.stderr}"


def clear(lab, name: str) -> None:
    result = lab.run("fault", "clear", name, timeout=300)
    assert result.returncode == 0, f"clear {name} failed: {result.stdout}\n{result.stderr}"


def run_until(lab, area: str, reports: Path, settled, limit: float, tier: str = "full",
              controls: frozenset[str] = frozenset()) -> AreaRun:
    """Re-run the area until `settled(run)` holds: heartbeats and periodic tasks take their time to show a
    fault (a killed compute is down only after service_down_time). Bounded; the last run is returned."""
    deadline = time.monotonic() + limit
    while True:
        run = run_area(lab, area, reports, tier, controls)
        if settled(run) or time.monotonic() >= deadline:
            return run
        time.sleep(SETTLE_INTERVAL)


TIER_RANK = {"smoke": 0, "full": 1, "all": 2}
MAX_BATCH = 4  # faults proven in one run; small enough that a failure still points at a few


@dataclass(frozen=True)
class Batch:
    """Faults proven together: their controls in the area are disjoint, so one run shows each fault's
    controls red and nothing else; `tier` is the least that runs all of them (readonly controls only: smoke)."""

    faults: tuple[str, ...]
    tier: str
    expected: dict[str, frozenset[str]]  # fault -> its controls in the area

    @property
    def id(self) -> str:
        return "+".join(self.faults)

    def controls(self) -> set[str]:
        return {c for controls in self.expected.values() for c in controls}


def plan(area: str, evidence: dict, solo: frozenset[str] = frozenset()) -> list[Batch]:
    """Batches of the faults in `evidence`: faults whose controls in the area are disjoint share a batch, by
    tier; `solo` faults (whose effect reaches past their own controls, e.g. a stopped vCenter) run alone."""
    registry = lab_faults()
    readonly = area_controls(area, tier="readonly")
    workload = area_controls(area, tier="workload")
    every = area_controls(area)
    batches: list[tuple[list[str], str, dict[str, frozenset[str]]]] = []
    for fault in sorted(evidence, key=lambda f: (f in solo, f)):
        if fault not in registry:
            batches.append(([fault], "smoke", {fault: frozenset()}))  # the proof fails, naming it
            continue
        controls = frozenset(registry[fault]["controls"]) & every
        tier = "smoke" if controls <= readonly else ("full" if controls <= readonly | workload else "all")
        home = next((b for b in batches if fault not in solo and b[1] == tier and len(b[0]) < MAX_BATCH
                     and not (set(b[0]) & solo)
                     and not controls & {c for cs in b[2].values() for c in cs}), None)
        if home is None:
            batches.append(([fault], tier, {fault: controls}))
        else:
            home[0].append(fault)
            home[2][fault] = controls
    return [Batch(tuple(faults), tier, expected) for faults, tier, expected in batches]


# The lab services whose logs a failed proof of the area shows (a CI run keeps nothing of the lab but its output).
AREA_LOGS = {"nsx": "nsx-node-agent-"}
LOG_LINES = 8  # the last lines of each such service, after its last warnings and errors


def lab_logs(lab, area: str) -> str:
    """What the area's lab services logged last: their warnings and errors, then their last lines."""
    prefix = AREA_LOGS.get(area)
    if prefix is None:
        return ""
    parts = []
    for service in sorted(row["service"] for row in lab.status()["services"] if row["service"].startswith(prefix)):
        lines = lab.run("logs", service, "-n", "400", timeout=30).stdout.splitlines()
        alarms = [line for line in lines[:-LOG_LINES] if " WARNING " in line or " ERROR " in line][-LOG_LINES:]
        parts.append(f"--- {service}:\n" + "\n".join(alarms + lines[-LOG_LINES:]))
    return "\n".join(parts)


@contextlib.contextmanager
def showing_lab_logs(lab, area: str) -> Iterator[None]:
    """A failed proof says what the lab's own services saw meanwhile."""
    try:
        yield
    except AssertionError as exc:
        logs = lab_logs(lab, area)
        if not logs:
            raise
        raise AssertionError(f"{exc}\n\nthe lab's {area} services logged last:\n{logs}") from exc


def prove_batch(lab, area: str, batch: Batch, evidence: dict, reports: Path, limit: float = 90.0, *,
                expected_skips: dict[str, str] | None = None) -> None:
    """Inject the batch's faults: exactly their controls of `area` go red, each naming its faulty object (the
    texts `evidence[fault]` lists, or per control); clear them all: one run, all green.

    The disruptive checks run only for a batch that names one: on any other fault they refuse to start on an
    unhealthy cloud (their precondition), which proves nothing about the fault. `expected_skips`: controls the
    lab cannot evaluate yet, and the reason they must give (see AreaRun.not_passed).
    """
    registry = lab_faults()
    for fault in batch.faults:
        assert fault in registry, f"the lab has no fault {fault!r}: add it to stackproof_lab/faults/catalogue.py"
        assert batch.expected[fault], f"fault {fault} names no control of area {area} ({registry[fault]['controls']})"
    expected = batch.controls()
    with showing_lab_logs(lab, area):
        _prove(lab, area, batch, evidence, reports, limit, expected, expected_skips)


def _prove(lab, area: str, batch: Batch, evidence: dict, reports: Path, limit: float, expected: frozenset[str],
           expected_skips: dict[str, str] | None) -> None:
    injected = []
    try:
        for fault in batch.faults:
            inject(lab, fault)
            injected.append(fault)
        run = run_until(lab, area, reports, lambda r: r.red() == expected, limit, batch.tier)
        assert run.red() == expected, (
            f"{batch.id}: expected exactly {sorted(expected)} red within {limit:g} s, got {run.not_passed()}\n"
            f"{run.output[-4000:]}")
        others = {cid: o for cid, o in run.not_passed(expected_skips).items() if cid not in expected}
        assert not others, f"{batch.id}: other controls did not pass: {others}"
        for fault in batch.faults:
            for control_id in batch.expected[fault]:
                message = run.message(control_id)
                declared = evidence[fault]
                texts = declared.get(control_id, []) if isinstance(declared, dict) else declared
                assert texts, f"{fault}: no evidence declared for {control_id}"
                for text in texts:
                    assert text in message, f"{fault}: {control_id}'s failure does not name {text!r}:\n{message}"
    finally:
        for fault in reversed(injected):
            clear(lab, fault)
    # Clearing is proven on the batch's own controls: every other control of the area already passed in the
    # red run, and the next batch's red run (or the area's green test) sees the rest of the area again.
    after = run_until(lab, area, reports, lambda r: not r.not_passed(expected_skips), limit, batch.tier,
                      frozenset(expected))
    assert set(after.outcomes) == expected, f"after clearing {batch.id}: ran {sorted(after.outcomes)}"
    assert after.not_passed(expected_skips) == {}, (
        f"after clearing {batch.id}: {after.not_passed()}\n{after.output[-3000:]}")


def assert_every_fault_has_proof(area: str, evidence: dict) -> None:
    """Every lab fault that names a control of `area` has an entry in the area's evidence table."""
    controls = area_controls(area)
    faults = {name for name, fault in lab_faults().items() if set(fault["controls"]) & controls}
    missing = sorted(faults - set(evidence))
    assert not missing, f"lab faults naming {area} controls without a detection proof: {missing}"


def assert_green(lab, area: str, reports: Path, tier: str = "full", runs: int = 1,
                 expected_skips: dict[str, str] | None = None) -> None:
    """A healthy lab runs every control of the area green at `tier`, `runs` runs in a row (each batch proof
    ends with one more green run), but those of `expected_skips`, not evaluated for the reason given."""
    if tier == "smoke":  # the readonly checks only
        controls = area_controls(area, tier="readonly")
    else:
        controls = area_controls(area, disruptive=tier == "all")
    for attempt in range(runs):
        run = run_area(lab, area, reports, tier)
        with showing_lab_logs(lab, area):
            assert run.exit_code == 0 and run.not_passed(expected_skips) == {}, (
                f"run {attempt + 1}: {run.not_passed()}\n{run.output[-3000:]}")
        assert set(run.outcomes) == controls, f"run {attempt + 1} ran {sorted(run.outcomes)}, not {sorted(controls)}"


pytestmark = pytest.mark.detection
