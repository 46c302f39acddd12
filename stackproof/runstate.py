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
from stackproof.naming import run_prefix
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
    controls: dict[str, Control] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
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
