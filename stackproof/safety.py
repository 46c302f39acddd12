"""Safety tiers, enforced on the wire.

Every OpenStack connection the engine builds sends its requests through `GuardedAdapter`, mounted on the
connection's HTTP session. The adapter knows which check is running and its tier; in a `readonly` check it
refuses anything but GET and HEAD before the request leaves the process, whatever code path made it. The one
exception is the Keystone token request, which reads nothing and changes nothing in the cloud.

A refusal raises SafetyViolation and is also remembered for the check, so that a caller who swallows the
exception still cannot turn the check green.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from keystoneauth1.session import TCPKeepAliveAdapter

from stackproof import apilog
from stackproof.errors import SafetyViolation

READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class CheckContext:
    nodeid: str
    control_id: str
    tier: str
    violations: list[str] = field(default_factory=list)


_lock = threading.Lock()
_current: CheckContext | None = None


def enter(context: CheckContext) -> None:
    global _current
    with _lock:
        _current = context


def leave() -> CheckContext | None:
    global _current
    with _lock:
        context, _current = _current, None
    return context


def current() -> CheckContext | None:
    return _current


def _is_token_request(method: str, url: str) -> bool:
    # Authentication is a POST that creates a token, not a change to the cloud; a readonly check that could
    # not authenticate could not read either.
    return method == "POST" and urlsplit(url).path.rstrip("/").endswith("/auth/tokens")


def check_allowed(method: str, url: str) -> None:
    """Raise SafetyViolation if the running check's tier forbids this request."""
    context = _current
    method = method.upper()
    if context is None or context.tier != "readonly":
        return
    if method in READ_METHODS or _is_token_request(method, url):
        return
    message = (
        f"{context.control_id} ({context.nodeid}) is a readonly check but tried {method} {url}: "
        "refused before it was sent"
    )
    context.violations.append(message)
    apilog.record(method, url, None, None, 0.0, context.nodeid, error="refused: readonly check")
    raise SafetyViolation(message)


class GuardedAdapter(TCPKeepAliveAdapter):
    """The transport adapter every engine connection uses: tier enforcement plus the API record."""

    def send(self, request, **kwargs):
        check_allowed(request.method, request.url)
        context = _current
        started = time.monotonic()
        try:
            response = super().send(request, **kwargs)
        except Exception as exc:
            apilog.record(
                request.method, request.url, None, None, time.monotonic() - started,
                context.nodeid if context else None, error=type(exc).__name__,
            )
            raise
        apilog.record(
            request.method, request.url, response.status_code, apilog.request_id_of(response.headers),
            time.monotonic() - started, context.nodeid if context else None,
        )
        return response


def guard(requests_session) -> None:
    """Mount the guarded adapter on a requests.Session for both schemes."""
    for prefix in ("https://", "http://"):
        requests_session.mount(prefix, GuardedAdapter())
