"""The ERROR lines the lab's OpenStack services logged since a moment: what a failed run (tempest's, CI's)
prints so its page says why a resource went to ERROR, after the lab and its logs are gone.

oslo.log lines begin ``YYYY-MM-DD HH:MM:SS.mmm PID LEVEL``, in the machine's local time, so a moment in
that form compares as text; other services' logs (MariaDB, RabbitMQ, sshd) have their own formats and
are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

OSLO_ERROR = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+ \d+) ERROR \S+ ?(.*)$")
MOMENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _records(path: Path, since: str) -> list[str]:
    """One line per ERROR record at or after ``since``: its first line and, for a traceback (one ERROR
    line per frame, all with the record's timestamp and pid), the exception it ended with."""
    records: list[tuple[str, str, str]] = []  # (timestamp and pid, first line, last line)
    with open(path, errors="replace") as f:
        for line in f:
            match = OSLO_ERROR.match(line)
            if not match or match.group(1) < since:
                continue
            stamp, text = match.group(1) + match.group(2), match.group(3).strip()
            if records and records[-1][0] == stamp:
                if text:
                    records[-1] = (stamp, records[-1][1], text)
            else:
                records.append((stamp, f"{match.group(1)} {text}", ""))
    return [first if not last or last == first else f"{first} ... {last}" for _, first, last in records]


def errors_since(logs: Iterable[tuple[str, Path]], since: str, per_log: int) -> list[str]:
    """``service: record`` for the last ``per_log`` ERROR records of each log at or after ``since``."""
    if not MOMENT.match(since):
        raise ValueError(f"{since!r} is not a moment as YYYY-MM-DD HH:MM:SS")
    found: list[str] = []
    for service, path in logs:
        if not path.exists():
            continue
        records = _records(path, since)
        if len(records) > per_log:
            found.append(f"{service}: ({len(records) - per_log} earlier ERROR records left out)")
        found.extend(f"{service}: {record}" for record in records[-per_log:])
    return found
