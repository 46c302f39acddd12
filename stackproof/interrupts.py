"""Ctrl-C and SIGTERM: one interrupt, however many ways it arrives.

A terminal's Ctrl-C reaches every process of the run (the xdist controller and its workers); the controller
also interrupts workers that did not get it (SIGTERM sent to the controller alone, as CI and `timeout` do).
A worker may so be told twice within a moment: the second is the same interrupt and must not break the
clean-up the first one started. A later signal is a second interrupt and stops what is running.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

#: Signals closer together than this are one interrupt delivered twice.
DUPLICATE_WINDOW = 2.0


class Interrupts:
    def __init__(self, on_first: Callable[[], None] = lambda: None) -> None:
        self._on_first = on_first
        self.first_at: float | None = None
        self.count = 0

    @property
    def interrupted(self) -> bool:
        return self.first_at is not None

    def install(self) -> None:
        """Set explicitly: a process started from a backgrounded shell inherits SIGINT as ignored, and Python
        then installs no handler of its own, so an operator's interrupt would leave the run's resources behind."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if self.first_at is not None and now - self.first_at < DUPLICATE_WINDOW:
            return
        self.count += 1
        if self.first_at is None:
            self.first_at = now
            self._on_first()
        raise KeyboardInterrupt
