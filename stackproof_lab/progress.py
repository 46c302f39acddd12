"""Progress lines for long commands: every step prints its own duration and the time since start."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Progress:
    """Thread-safe step reporter; ``step()`` is a context manager that times one step."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.start = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, message: str) -> None:
        with self._lock:
            print(f"[{self.elapsed():6.1f}s] {message}", flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        """Time a step; the yielded dict's "note" is printed after the step's name."""
        began = time.monotonic()
        info: dict[str, str] = {}
        try:
            yield info
        except BaseException:
            self.say(f"{name}: FAILED after {time.monotonic() - began:.1f}s")
            raise
        note = f" ({info['note']})" if info.get("note") else ""
        self.say(f"{name}: done in {time.monotonic() - began:.1f}s{note}")

    def total(self) -> None:
        print(f"{self.title}: total {self.elapsed():.1f}s", file=sys.stdout, flush=True)
