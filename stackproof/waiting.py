"""The one way to wait: poll until a condition holds, bounded, and say exactly what was waited for.

On timeout the error names what was awaited, the last state seen (and the states before it), the time spent
against the limit, and the request IDs of the API calls made while waiting, so an operator can find them in
the service logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from stackproof import apilog

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out. An AssertionError: what was awaited did not happen, so the check fails."""


class WaitAborted(AssertionError):
    """The awaited thing reached a state it can never leave (e.g. ERROR)."""


def _describe(value: object) -> str:
    status = getattr(value, "status", None)
    if status is not None:
        return str(status)
    return repr(value) if not isinstance(value, str) else value


def wait_for(
    fetch: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float,
    interval: float = 2.0,
    description: str,
    fail_if: Callable[[T], str | None] | None = None,
    state: Callable[[T], str] = _describe,
) -> T:
    """Call `fetch` every `interval` seconds until `until(value)` holds; return that value.

    `fail_if` may return a reason to stop at once (a terminal state). Exceptions from `fetch` propagate:
    a wait does not hide errors.
    """
    started = time.monotonic()
    position = apilog.mark()
    history: list[str] = []
    value: T | None = None
    while True:
        value = fetch()
        seen = state(value)
        if not history or history[-1] != seen:
            history.append(seen)
        if until(value):
            return value
        elapsed = time.monotonic() - started
        reason = fail_if(value) if fail_if else None
        if reason:
            raise WaitAborted(_message(f"gave up waiting for {description}: {reason}", elapsed, timeout,
                                       history, position))
        if elapsed >= timeout:
            raise WaitTimeout(_message(f"timed out waiting for {description}", elapsed, timeout, history,
                                       position))
        time.sleep(min(interval, max(0.0, timeout - elapsed)) or interval)


def _message(head: str, elapsed: float, timeout: float, history: list[str], position: int) -> str:
    ids = [c.request_id for c in apilog.since(position) if c.request_id]
    unique = list(dict.fromkeys(ids))
    shown = ", ".join(unique[-5:]) if unique else "none"
    more = f" (last 5 of {len(unique)})" if len(unique) > 5 else ""
    states = " -> ".join(history[-6:])
    return (
        f"{head} after {elapsed:.1f} s (limit {timeout:g} s); last state: {history[-1] if history else 'none'}"
        f" (states: {states}); request IDs: {shown}{more}"
    )


@dataclass(frozen=True)
class Waiter:
    """wait_for with the limits of the target's timeout profile, by name (e.g. 'server_active')."""

    timeouts: object

    def until(self, fetch: Callable[[], T], *, limit: str = "default", **kwargs) -> T:
        timeout = self.timeouts.get(limit)  # type: ignore[attr-defined]
        interval = kwargs.pop("interval", getattr(self.timeouts, "interval", 2.0))
        return wait_for(fetch, timeout=timeout, interval=interval, **kwargs)
