"""The processes of one run (xdist workers), as the controller sees them through the run directory.

Each worker records its PID and state (running, interrupted, finished) in ``<run>/.workers/``. After an
interrupt the controller interrupts the workers that did not get it, and waits, bounded, until every worker
has finished its own clean-up or is gone, so that the leak audit sees the cloud as the run left it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

WORKERS_DIR = ".workers"
RUNNING, INTERRUPTED, FINISHED = "running", "interrupted", "finished"


@dataclass(frozen=True)
class Worker:
    name: str
    pid: int
    state: str

    @property
    def alive(self) -> bool:
        """A zombie (exited, not yet reaped by its parent) counts as gone."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] not in "ZX"

    def interrupt(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # gone meanwhile: nothing to interrupt
            os.kill(self.pid, signal.SIGINT)


def record(run_dir: Path, name: str, state: str) -> None:
    directory = Path(run_dir) / WORKERS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.tmp"
    temporary.write_text(json.dumps({"pid": os.getpid(), "state": state}), encoding="utf-8")
    os.replace(temporary, directory / f"{name}.json")  # atomic: the controller never reads half a record


def all_of(run_dir: Path) -> list[Worker]:
    workers = []
    for path in sorted((Path(run_dir) / WORKERS_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        workers.append(Worker(path.stem, int(data["pid"]), data["state"]))
    return workers


def busy(run_dir: Path) -> list[Worker]:
    """Workers still alive that have not finished their session (and so their clean-up)."""
    return [w for w in all_of(run_dir) if w.state != FINISHED and w.alive]
