"""Run-once set-up shared by the xdist workers of a run, behind a file lock in the run's directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

T = TypeVar("T")


def once(directory: Path, name: str, produce: Callable[[], T], timeout: float = 600.0) -> T:
    """Return what `produce()` returned the first time any worker of this run asked for `name`.

    The value must be JSON-serialisable: later workers read it from disk instead of producing it again.
    """
    directory = Path(directory) / ".once"
    directory.mkdir(parents=True, exist_ok=True)
    result = directory / f"{name}.json"
    with FileLock(str(directory / f"{name}.lock"), timeout=timeout):
        if result.is_file():
            return json.loads(result.read_text(encoding="utf-8"))
        value = produce()
        result.write_text(json.dumps(value), encoding="utf-8")
        return value
