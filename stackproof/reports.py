"""The run's report directory: its run ID, its folder, and what the reports say about the run's software.

Each run writes into ``reports/<run id>/``: junit.xml, report.html (self-contained), the ledger and API
records (JSON lines per process), and evidence.json (see stackproof/report/). ``reports/latest`` points at
the newest run.
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets as _random
import time
from importlib import metadata
from pathlib import Path

CLIENT_PACKAGES = ("stackproof", "openstacksdk", "keystoneauth1", "pyvmomi", "pytest", "pytest-xdist",
                   "pytest-html", "pytest-testinfra", "tempest")


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
    versions = {"python": platform.python_version(), "platform": platform.platform()}
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
