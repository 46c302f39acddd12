"""Run IDs and the names of a run's resources: one format each, parsed rather than matched by prefix.

A run ID is 4 to 32 lowercase letters and digits (the generated ones are a UTC timestamp and four hex digits);
a resource name of the run is ``sp-<run id>-<hint>-<6 hex>`` with a hint of lowercase letters, digits and `_`.
Neither part carries a `-`, so a name has exactly four dash-separated fields and only an exact parse counts as
ownership: run ``relx`` owns ``sp-relx-net-0a1b2c`` but neither ``sp-relxk-net-0a1b2c`` (run relxk's) nor
``sp-relx-k-net-0a1b2c`` (a run ID with a dash, which no run has any more), and the lab's base image
``sp-vmware-sparse-vmdk`` (no six-hex tail) belongs to no run at all.
"""

from __future__ import annotations

import re
import secrets as _random

from stackproof.errors import StackproofError

RUN_ID = re.compile(r"^[a-z0-9]{4,32}$")
NAME = re.compile(r"^sp-(?P<run_id>[a-z0-9]{4,32})-(?P<hint>[a-z0-9_]{1,40})-(?P<token>[0-9a-f]{6})$")
HINT_LENGTH = 40


class BadRunId(StackproofError):
    """A run ID that does not have the one format (it would not delimit the run's resources exactly)."""


def check_run_id(run_id: str) -> str:
    """Return `run_id` if it has the run ID format; raise BadRunId with one line otherwise."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise BadRunId(f"run ID {run_id!r} is not valid: 4 to 32 lowercase letters and digits "
                       "(e.g. 20260101120000ab12)")
    return run_id


def run_prefix(run_id: str) -> str:
    """What every name of the run starts with; ownership is decided by `owner_of`, never by this prefix alone."""
    return f"sp-{check_run_id(run_id)}-"


def new_name(run_id: str, hint: str) -> str:
    """A fresh name of the run: ``sp-<run id>-<hint>-<6 hex>``, the hint reduced to lowercase ASCII and `_`."""
    safe = "".join(ch if ch in "abcdefghijklmnopqrstuvwxyz0123456789" else "_" for ch in hint.lower())
    safe = safe.strip("_")[:HINT_LENGTH].strip("_") or "res"
    return f"{run_prefix(run_id)}{safe}-{_random.token_hex(3)}"


def owner_of(name: str | None) -> str | None:
    """The run ID a resource name belongs to, or None when it is not a run's name."""
    match = NAME.fullmatch(name or "")
    return match["run_id"] if match else None


def belongs_to(name: str | None, run_id: str) -> bool:
    return owner_of(name) == run_id
