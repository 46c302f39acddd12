"""The run's report directory and evidence.json, the auditor's record of a run.

Each run writes into ``reports/<run id>/``: junit.xml (xunit1), report.html (self-contained), the ledger and
API records (JSON lines per process), and evidence.json. ``reports/latest`` points at the newest run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets as _random
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from stackproof import apilog, secrets

CLIENT_PACKAGES = ("stackproof", "openstacksdk", "keystoneauth1", "pyvmomi", "pytest", "pytest-xdist",
                   "pytest-html", "pytest-testinfra", "tempest")
EVIDENCE = "evidence.json"


def new_run_id() -> str:
    """Sortable by time, unique enough across runners, short enough to live in every resource name."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + _random.token_hex(2)


def prepare(reports_root: Path, run_id: str) -> Path:
    directory = Path(reports_root) / run_id
    directory.mkdir(parents=True, exist_ok=True)
    latest = Path(reports_root) / "latest"
    temporary = Path(reports_root) / f".latest-{run_id}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_id, target_is_directory=True)
        os.replace(temporary, latest)  # atomic: a reader never sees a missing link
    except OSError:
        temporary.unlink(missing_ok=True)
    return directory


def client_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in CLIENT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_evidence(directory: Path, run: dict[str, Any], controls: Iterable[dict[str, Any]]) -> Path:
    """Scrub the run's files of secrets, hash them, and write evidence.json beside them."""
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != EVIDENCE:
            secrets.scrub_file(path)
    calls = apilog.read_all(directory)
    by_check: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        if call.get("check"):
            by_check.setdefault(call["check"], []).append(
                {k: call.get(k) for k in ("method", "path", "status", "request_id", "seconds", "at", "error")}
            )
    entries = []
    for control in controls:
        entries.append(control | {"requests": by_check.get(control["nodeid"], [])})
    hashes = {
        path.name: sha256(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != EVIDENCE
    }
    document = run | {"client_versions": client_versions(), "controls": entries, "files_sha256": hashes}
    out = directory / EVIDENCE
    out.write_text(secrets.redact(json.dumps(document, indent=2, sort_keys=True, default=str)), encoding="utf-8")
    return out
