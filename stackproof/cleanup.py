"""`stackproof cleanup`: delete what a dead run left, only the run's own, and never report success unchecked.

What is to go: the run's ledger entries not yet deleted, and whatever the cloud lists under the run's names
(`stackproof.naming`: exact ownership, no prefix match). A ledger line whose name is not the run's is ignored and
reported; a ledger ID is deleted only while the cloud's object still carries the recorded name (the ledger
checks that before each delete). The cloud is authenticated to first, so a wrong password or an unreachable
endpoint is one line (exit 4), and any kind the cloud could not list is an error naming it: "nothing found" is
said only when everything was looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stackproof import connections, naming
from stackproof.ledger import Entry, ForeignObject, Ledger, find_of_run
from stackproof.target import Target

CLEANUP_LEDGER = "ledger-cleanup.jsonl"


def _recorded(run_dir: Path) -> list[Entry]:
    return Ledger.read(sorted(run_dir.glob("ledger-*.jsonl"))) if run_dir.is_dir() else []


def clean(target: Target, run_id: str, run_dir: Path, *, dry_run: bool, say: Callable[[str], None],
          warn: Callable[[str], None]) -> int:
    """Delete (or, dry, list) what run `run_id` left; 0 when everything was checked and is gone, else 1."""
    pool = connections.ConnectionPool(target)
    admin = target.clouds.cloud
    connections.authorize(pool.get(admin), admin)
    found, unlisted = find_of_run(pool.get(admin), run_id)
    problems = [f"could not list {note}: what run {run_id} left of it was not checked" for note in unlisted]

    todo: dict[tuple[str, str], Entry] = {}
    for entry in _recorded(run_dir):
        if entry.state == "deleted":
            continue
        if not naming.belongs_to(entry.name, run_id):
            problems.append(f"ledger line {entry.kind} {entry.name!r} ({entry.id or 'no id'}) is no name of run "
                            f"{run_id}: ignored")
            continue
        todo[(entry.kind, entry.name)] = entry
    for item in found:
        entry = todo.setdefault((item.kind, item.name), Entry(item.kind, item.name, admin, None, item.id, "created"))
        if entry.id is None:
            entry.id = item.id

    ledger = Ledger(run_dir / CLEANUP_LEDGER, run_id, pool.get, target.timeouts, log=say)
    if dry_run:
        for entry in todo.values():
            try:
                reason = ledger.inspect(entry)
            except ForeignObject as exc:
                problems.append(str(exc))
                continue
            if reason is None:
                say(f"would delete {entry.kind} {entry.name} ({entry.id})")
            else:
                say(f"nothing to do for {entry.kind} {entry.name}: {reason}")
    else:
        problems += ledger.cleanup(todo.values())

    for problem in problems:
        warn(problem)
    if not todo and not problems:
        say(f"nothing of run {run_id} found")
    return 1 if problems else 0
