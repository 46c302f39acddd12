"""Waivers: a known failure of a control, accepted for a while, with a justification and an expiry date.

A waivers file (``--waivers FILE``)::

    waivers:
      - control: SP-AGG-011
        justification: DRS stays partially automated on cluster c2 until the vMotion network is rebuilt (CHG-1234)
        expires: 2026-03-31
        scope: {target: prod-east}        # optional: only runs of this target (and/or run_id: ...)

A failure of a waived control is reported as waived, never as passed; a waiver past its expiry date fails
the run and says so, until it is renewed or removed. Every report lists the waivers and what became of
them: applied (it covered a failure), unused (its control did not fail), out of scope, expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackproof.controls import ID_PATTERN
from stackproof.errors import StackproofError

APPLIED, UNUSED, OUT_OF_SCOPE, EXPIRED = "applied", "unused", "out of scope", "expired"


class WaiverError(StackproofError):
    """The waivers file is missing or invalid (one line, exit 4)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(_Strict):
    target: str | None = Field(default=None, description="only runs against the target of this name")
    run_id: str | None = Field(default=None, description="only the run of this ID")


class Waiver(_Strict):
    control: str = Field(pattern=ID_PATTERN.pattern, description="the control ID the waiver covers")
    justification: str = Field(min_length=10, description="why the failure is accepted, and what will end it")
    expires: dt.date = Field(description="the last day the waiver is in force (YYYY-MM-DD)")
    scope: Scope | None = None

    def in_scope(self, target: str, run_id: str) -> bool:
        if self.scope is None:
            return True
        return (self.scope.target in (None, target)) and (self.scope.run_id in (None, run_id))

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def describe(self) -> str:
        return f"waived until {self.expires.isoformat()}: {self.justification}"


class _File(_Strict):
    waivers: list[Waiver]


def load(path: Path | str) -> list[Waiver]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WaiverError(f"waivers file {path} not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WaiverError(f"waivers file {path}: cannot be read: {' '.join(str(exc).split())}") from None
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise WaiverError(f"waivers file {path}: {problems}") from None
    seen: set[str] = set()
    for waiver in parsed.waivers:
        if waiver.control in seen:
            raise WaiverError(f"waivers file {path}: {waiver.control} is waived twice")
        seen.add(waiver.control)
    return parsed.waivers


@dataclass
class Waivers:
    """The waivers of one run: which are in force, and what became of each."""

    waivers: list[Waiver]
    target: str
    run_id: str
    today: dt.date

    def in_force(self, control_id: str) -> Waiver | None:
        """The waiver that turns a failure of `control_id` into a waived one, if any."""
        for waiver in self.waivers:
            if (waiver.control == control_id and waiver.in_scope(self.target, self.run_id)
                    and not waiver.expired(self.today)):
                return waiver
        return None

    def statuses(self, waived_controls: set[str]) -> list[dict[str, Any]]:
        rows = []
        for waiver in self.waivers:
            if not waiver.in_scope(self.target, self.run_id):
                status = OUT_OF_SCOPE
            elif waiver.expired(self.today):
                status = EXPIRED
            else:
                status = APPLIED if waiver.control in waived_controls else UNUSED
            rows.append(record(waiver) | {"status": status})
        return rows


def record(waiver: Waiver) -> dict[str, Any]:
    """How a waiver appears in evidence.json and on a waived case."""
    return waiver.model_dump(mode="json", exclude_none=True)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
