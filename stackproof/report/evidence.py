"""evidence.json: the auditor's record, the report model with the API requests and the files' hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackproof import apilog, secrets
from stackproof.report.model import EVIDENCE, RunReport, to_json
from stackproof.reports import sha256

REQUEST_FIELDS = ("method", "path", "status", "request_id", "seconds", "at", "error")


def report_files(directory: Path) -> list[Path]:
    """The run's files in `directory` and its phase folders, without evidence.json and internal state."""
    found = []
    for path in sorted(Path(directory).rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and relative != Path(EVIDENCE) and not any(p.startswith(".") for p in relative.parts):
            found.append(path)
    return found


def attach_requests(report: RunReport, records_dir: Path) -> None:
    """Give each case the API requests made while it ran (from every process's api-*.jsonl)."""
    by_check: dict[str, list[dict[str, Any]]] = {}
    for call in apilog.read_all(records_dir):
        if call.get("check"):
            by_check.setdefault(call["check"], []).append({k: call.get(k) for k in REQUEST_FIELDS})
    for case in report.cases:
        case.requests = by_check.get(case.nodeid, [])


def write(report: RunReport, directory: Path) -> Path:
    """Scrub the files beside it of secrets, hash them, and write evidence.json into `directory`."""
    directory = Path(directory)
    files = report_files(directory)
    for path in files:
        secrets.scrub_file(path)
    report.files_sha256 = {path.relative_to(directory).as_posix(): sha256(path) for path in files}
    out = directory / EVIDENCE
    out.write_text(secrets.redact(to_json(report)), encoding="utf-8")
    return out
