"""One registry of secret values, and the redaction that keeps them out of logs and reports.

Every place that learns a secret (clouds.yaml passwords, vCenter/NSX passwords, tokens seen on the wire)
registers it here. Log records are redacted when they are created, and the run's report files are scrubbed
once more before they are hashed, so no code path can write a secret that survives into a report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

MASK = "***"
# Short strings would mask ordinary words; real secrets are longer than this.
_MIN_SECRET_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: object) -> None:
    """Remember a secret value so that it is masked wherever it would be written."""
    if isinstance(value, str) and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def register_all(values: Iterable[object]) -> None:
    for value in values:
        register(value)


def known() -> list[str]:
    """The registered secrets, longest first (so a secret containing another is masked whole)."""
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    for secret in known():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_previous_factory = logging.getLogRecordFactory()


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    if _secrets:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
    return record


def install_log_redaction() -> None:
    """Redact every log record at creation, whichever logger or handler it goes to."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


def scrub_file(path: Path) -> bool:
    """Mask registered secrets in a text file in place; return whether anything was masked."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    cleaned = redact(text)
    if cleaned == text:
        return False
    path.write_text(cleaned, encoding="utf-8")
    return True


def secret_values_in(mapping: object, keys: tuple[str, ...] = ("password", "secret", "token")) -> list[str]:
    """Collect values of secret-looking keys from a nested clouds.yaml-like mapping."""
    found: list[str] = []
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            if isinstance(value, str) and any(k in str(key).lower() for k in keys):
                found.append(value)
            else:
                found.extend(secret_values_in(value, keys))
    elif isinstance(mapping, list):
        for value in mapping:
            found.extend(secret_values_in(value, keys))
    return found
