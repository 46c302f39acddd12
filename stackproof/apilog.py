"""The record of every API request a run makes: method, path, status, request ID, time, and which check.

Records are appended to a JSON-lines file per process under the run's report directory, and kept in memory
so that a wait that times out can name the request IDs behind it. Headers and bodies are never recorded:
they carry tokens and passwords.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id", "openstack-request-id")


@dataclass(frozen=True)
class ApiCall:
    seq: int
    check: str | None
    method: str
    url: str
    path: str
    status: int | None
    request_id: str | None
    seconds: float
    at: float
    error: str | None = None


_lock = threading.Lock()
_seq = itertools.count(1)
_recent: deque[ApiCall] = deque(maxlen=10_000)
_sink: Path | None = None


def open_sink(path: Path) -> None:
    """Append this process's records to `path` from now on."""
    global _sink
    path.parent.mkdir(parents=True, exist_ok=True)
    _sink = path


def request_id_of(headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name) if headers is not None else None
        if value:
            return value
    return None


def record(
    method: str,
    url: str,
    status: int | None,
    request_id: str | None,
    seconds: float,
    check: str | None,
    error: str | None = None,
) -> ApiCall:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    call = ApiCall(
        seq=next(_seq),
        check=check,
        method=method,
        url=f"{parts.scheme}://{parts.netloc}{parts.path}",
        path=path,
        status=status,
        request_id=request_id,
        seconds=round(seconds, 4),
        at=time.time(),
        error=error,
    )
    with _lock:
        _recent.append(call)
        if _sink is not None:
            with _sink.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(call) | {"pid": os.getpid()}) + "\n")
    return call


def mark() -> int:
    """A position in the record; pass it to since() to get the calls made after it."""
    with _lock:
        return _recent[-1].seq if _recent else 0


def since(position: int) -> list[ApiCall]:
    with _lock:
        return [call for call in _recent if call.seq > position]


def read_all(directory: Path) -> list[dict]:
    """All records of a run, from every process's file, in time order."""
    calls: list[dict] = []
    for path in sorted(directory.glob("api-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                calls.append(json.loads(line))
    return sorted(calls, key=lambda c: c["at"])
