"""What one run knows about itself: its ID, report directory, target, and what it has seen so far.

The controller (or the only process, without xdist) creates it; xdist workers rebuild it from the values
the controller hands them, so every process of a run shares one run ID, one prefix and one report directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackproof.connections import ConnectionPool
from stackproof.controls import Control
from stackproof.interrupts import Interrupts
from stackproof.naming import run_prefix
from stackproof.report.model import Case
from stackproof.report.waivers import Waivers
from stackproof.target import Target


@dataclass
class RunState:
    run_id: str
    report_dir: Path
    target: Target
    lab_default: bool
    allow_disruptive: str | None
    max_tier: str | None = None
    worker: str = "main"
    # Where this session's junit.xml, report.html and evidence.json go: the run directory, or a phase's
    # folder inside it when `stackproof run` runs the disruptive checks as a second phase.
    output_dir: Path | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    controls: dict[str, Control] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    deselected: list[str] = field(default_factory=list)
    waivers: Waivers | None = None
    catalogue: Any = None  # a list, or a LabCatalogue still running
    notes: list[str] = field(default_factory=list)
    interrupts: Interrupts = field(default_factory=Interrupts)
    service_versions: dict[str, Any] = field(default_factory=dict)
    # clouds role -> what the run reached for it: clouds.yaml entry and file, auth URL, region, project, user
    clouds_used: dict[str, dict[str, Any]] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    started: float = 0.0
    pool: ConnectionPool | None = None
    ledger: Any = None

    def connections(self) -> ConnectionPool:
        """The process's connection pool for the target's clouds."""
        if self.pool is None:
            self.pool = ConnectionPool(self.target)
        return self.pool

    @property
    def outputs(self) -> Path:
        return self.output_dir or self.report_dir

    @property
    def prefix(self) -> str:
        return run_prefix(self.run_id)

    @property
    def disruptive_allowed(self) -> bool:
        return self.allow_disruptive is not None and self.allow_disruptive == self.target.name

    def worker_input(self) -> dict[str, str]:
        return {
            "stackproof_run_id": self.run_id,
            "stackproof_report_dir": str(self.report_dir),
            "stackproof_target": str(self.target.source),
            "stackproof_lab_default": "1" if self.lab_default else "",
        }


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")
