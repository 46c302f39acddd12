"""The lab's one wait primitive: bounded, and says what it waited for when it gives up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from stackproof_lab.errors import LabError

T = TypeVar("T")


def wait_for(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.5) -> T:
    """Call ``check`` until it returns something truthy and return that; LabError after ``timeout`` s.

    ``check`` may raise LabError to give up at once (e.g. the process it waits on died); other
    exceptions count as "not yet" and the last one is quoted in the timeout message.
    """
    deadline = time.monotonic() + timeout
    last_problem = ""
    while True:
        try:
            result = check()
        except LabError:
            raise
        except Exception as exc:
            result = None
            last_problem = f" (last: {type(exc).__name__}: {exc})"
        if result:
            return result
        if time.monotonic() >= deadline:
            raise LabError(f"gave up after {timeout:.0f}s waiting for {what}{last_problem}")
        time.sleep(interval)
