"""Safety tiers, enforced below every client.

A check runs in a tier (readonly, workload, disruptive) and a run may have a ceiling (`--max-tier`, set by
`stackproof run --tier smoke` to readonly): the tier in force is the lower of the two, and with a ceiling it
holds even outside any check. In the readonly tier only reads leave the process:

- every HTTP request, whatever the client (openstacksdk, plain `requests`, urllib3, urllib, http.client), is
  checked where they all meet, `http.client.HTTPConnection.putrequest`, and anything but GET and HEAD is
  refused before it is sent. The one exception is the Keystone token request, which reads nothing and changes
  nothing in the cloud. A client that speaks a protocol over POST whose reads the engine can tell apart
  (vSphere SOAP) vouches for each call it has checked (`vouched`).
- host commands go through `stackproof.host_commands`, which lets only reading commands through.

Engine connections also carry `GuardedAdapter`, which checks the same rule first and records every request
(method, path, status, request ID, time, check) for the reports, and registers the tokens it sees as secrets.

A refusal raises SafetyViolation and is also remembered for the check, so that a caller who swallows the
exception still cannot turn the check green.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from keystoneauth1.session import TCPKeepAliveAdapter

from stackproof import apilog, secrets
from stackproof.controls import TIERS
from stackproof.errors import SafetyViolation

READ_METHODS = frozenset({"GET", "HEAD"})
# Keystone hands tokens out in a response header and clients send them in a request header: both are
# registered as secrets so that a token a check prints is masked in every report.
TOKEN_HEADERS = ("X-Auth-Token", "X-Subject-Token")


@dataclass
class CheckContext:
    nodeid: str
    control_id: str
    tier: str
    violations: list[str] = field(default_factory=list)


_lock = threading.Lock()
_current: CheckContext | None = None
_ceiling: str | None = None
_local = threading.local()


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


def set_ceiling(tier: str | None) -> None:
    """The highest tier anything in this process may act in, whatever check runs (None: no ceiling)."""
    global _ceiling
    if tier is not None and tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
    _ceiling = tier


def ceiling() -> str | None:
    return _ceiling


def lowest(tiers: list[str]) -> str:
    """The most restrictive of `tiers`."""
    return min(tiers, key=TIERS.index)


def effective_tier() -> str | None:
    """The tier in force now: the running check's, lowered to the run's ceiling; None when neither is set."""
    tiers = [tier for tier in (_current.tier if _current else None, _ceiling) if tier]
    return lowest(tiers) if tiers else None


def refuse(attempt: str) -> None:
    """Refuse `attempt` (e.g. "POST https://nova/...") in the readonly tier: remember it and raise."""
    context = _current
    if context is not None and context.tier == "readonly":
        who = f"{context.control_id} ({context.nodeid}) is a readonly check"
    elif context is not None:
        who = f"{context.control_id} ({context.nodeid}) is a {context.tier} check in a run capped at {_ceiling}"
    else:
        who = f"this run is capped at {_ceiling} (--max-tier)"
    message = f"{who} but tried {attempt}: refused before it was sent"
    if context is not None:
        context.violations.append(message)
    raise SafetyViolation(message)


def _is_token_request(method: str, url: str) -> bool:
    # Authentication is a POST that creates a token, not a change to the cloud; a readonly check that could
    # not authenticate could not read either.
    return method == "POST" and urlsplit(url).path.rstrip("/").endswith("/auth/tokens")


def check_allowed(method: str, url: str) -> None:
    """Raise SafetyViolation if the tier in force forbids this HTTP request."""
    method = method.upper()
    if effective_tier() != "readonly" or method in READ_METHODS or _is_token_request(method, url):
        return
    context = _current
    apilog.record(method, url, None, None, 0.0, context.nodeid if context else None,
                  error="refused: readonly check")
    refuse(f"{method} {url}")


@contextmanager
def vouched(what: str) -> Iterator[None]:
    """HTTP requests of this thread inside the block are part of `what`, which a protocol-aware guard has
    already found to be a read (a vSphere SOAP call travels as a POST whatever it does)."""
    previous = getattr(_local, "vouched", None)
    _local.vouched = what
    try:
        yield
    finally:
        _local.vouched = previous


def _url_of(connection: http.client.HTTPConnection, url: str) -> str:
    if "://" in url:  # a request through a proxy names the whole URL
        return url
    scheme = "https" if isinstance(connection, http.client.HTTPSConnection) else "http"
    return f"{scheme}://{connection.host}:{connection.port}{url}"


_original_putrequest = http.client.HTTPConnection.putrequest


def _guarded_putrequest(self, method, url, *args, **kwargs):
    if not getattr(_local, "vouched", None):
        check_allowed(method, _url_of(self, url))
    return _original_putrequest(self, method, url, *args, **kwargs)


def install_wire_guard() -> None:
    """Check every HTTP request of this process, whatever client sends it (idempotent)."""
    http.client.HTTPConnection.putrequest = _guarded_putrequest


class GuardedAdapter(TCPKeepAliveAdapter):
    """The transport adapter every engine connection uses: tier enforcement, the API record, token masking."""

    def send(self, request, **kwargs):
        check_allowed(request.method, request.url)
        secrets.register_all(request.headers.get(name) for name in TOKEN_HEADERS)
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
        secrets.register_all(response.headers.get(name) for name in TOKEN_HEADERS)
        apilog.record(
            request.method, request.url, response.status_code, apilog.request_id_of(response.headers),
            time.monotonic() - started, context.nodeid if context else None,
        )
        return response


def guard(requests_session) -> None:
    """Mount the guarded adapter on a requests.Session for both schemes."""
    for prefix in ("https://", "http://"):
        requests_session.mount(prefix, GuardedAdapter())
