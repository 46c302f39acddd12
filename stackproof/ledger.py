"""The cleanup ledger: the one way checks create cloud resources, and the one way they are removed.

Every resource is written to the ledger (JSON lines under the run's report directory) *before* the create
call is sent, under a name of the run (``sp-<run id>-<hint>-<6 hex>``, see `stackproof.naming`); its ID is added
when the call returns. So a resource whose create call timed out, or a run killed mid-way, can still be found
by name and deleted. Deletion goes in dependency order, waits for each resource to be gone, and never stops at
the first error. Before a delete the cloud's object is read back: an ID is deleted only while the object still
carries the name the ledger recorded for it, so a stale or hand-edited ledger line cannot delete anything else.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openstack import exceptions as os_exc

from stackproof import naming
from stackproof.resource_kinds import KINDS, Kind, kind, label_of
from stackproof.waiting import wait_for

GONE_STATES = frozenset({"DELETED", "deleted", "SOFT_DELETED"})


@dataclass
class Entry:
    kind: str
    name: str
    cloud: str
    check: str | None
    id: str | None = None
    state: str = "requested"  # requested -> created -> deleted | delete_failed


@dataclass(frozen=True)
class Found:
    """A resource of a run found in the cloud by its name."""

    kind: str
    id: str
    name: str


class Ledger:
    def __init__(
        self,
        path: Path,
        run_id: str,
        connect: Callable[[str], Any],
        timeouts: Any,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.path = Path(path)
        self.run_id = naming.check_run_id(run_id)
        self.prefix = naming.run_prefix(run_id)
        self._connect = connect
        self._timeouts = timeouts
        self._log = log
        self._lock = threading.Lock()
        self._entries: list[Entry] = []

    # -- recording -------------------------------------------------------------------------------------
    def _write(self, entry: Entry, **extra: Any) -> None:
        line = json.dumps(asdict(entry) | {"at": time.time(), "pid": os.getpid()} | extra)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def new_name(self, hint: str = "res") -> str:
        return naming.new_name(self.run_id, hint)

    def _require_own(self, kind_name: str, label: object, what: str) -> str:
        if not naming.belongs_to(str(label), self.run_id):
            raise ValueError(f"{kind_name} {what} {label!r} is not a name of run {self.run_id} "
                             f"({self.prefix}<hint>-<6 hex>; use new_name())")
        return str(label)

    def _append(self, entry: Entry) -> Entry:
        with self._lock:
            self._entries.append(entry)
        self._write(entry)
        return entry

    def create(self, kind_name: str, cloud: str, check: str | None, conn: Any, hint: str | None = None,
               **attrs: Any) -> Any:
        """Create a resource through the ledger: recorded first, then created, then its ID recorded."""
        k = kind(kind_name)
        label = self._require_own(kind_name, attrs.get(k.name_field) or self.new_name(hint or kind_name),
                                  k.name_field)
        attrs[k.name_field] = label
        entry = self._append(Entry(kind=kind_name, name=label, cloud=cloud, check=check))
        resource = k.create(conn, **attrs)
        entry.id, entry.state = resource.id, "created"
        self._write(entry)
        return resource

    def adopt(self, kind_name: str, resource: Any, cloud: str, check: str | None) -> Any:
        """Record a resource created by a call the kinds table does not cover (e.g. an image upload)."""
        k = kind(kind_name)
        label = self._require_own(kind_name, label_of(k, resource), f"{resource.id} named")
        self._append(Entry(kind=kind_name, name=label, cloud=cloud, check=check, id=resource.id, state="created"))
        return resource

    def intend(self, kind_name: str, label: str, cloud: str, check: str | None) -> Entry:
        """Record a resource about to be created by custom code; call `created()` once it has an ID."""
        kind(kind_name)
        return self._append(Entry(kind=kind_name, name=self._require_own(kind_name, label, "name"), cloud=cloud,
                                  check=check))

    def created(self, entry: Entry, resource_id: str) -> None:
        entry.id, entry.state = resource_id, "created"
        self._write(entry)

    def pending(self, check: str | None = None) -> list[Entry]:
        with self._lock:
            return [e for e in self._entries
                    if e.state not in ("deleted",) and (check is None or e.check == check)]

    # -- deletion --------------------------------------------------------------------------------------
    def cleanup(self, entries: Iterable[Entry] | None = None) -> list[str]:
        """Delete entries in dependency order and wait until each is gone; return the errors."""
        todo = list(self.pending() if entries is None else entries)
        errors: list[str] = []
        for order in sorted({kind(e.kind).order for e in todo}):
            group = [e for e in todo if kind(e.kind).order == order]
            # Send the group's deletes first and wait afterwards: the waits overlap instead of adding up.
            sent: list[tuple[Entry, Kind, Any]] = []
            for entry in group:
                k = kind(entry.kind)
                try:
                    conn = self._connect(entry.cloud)
                    if entry.id is None:
                        entry.id = self._find_id(conn, k, entry.name)
                        if entry.id is None:
                            entry.state = "deleted"
                            self._write(entry, note="never created")
                            continue
                    elif self._owned(conn, k, entry) is None:
                        entry.state = "deleted"
                        self._write(entry, note="already gone")
                        continue
                    self._log(f"deleting {entry.kind} {entry.name} ({entry.id})")
                    k.delete(conn, entry.id)
                    sent.append((entry, k, conn))
                except Exception as exc:
                    errors.append(self._failed(entry, exc))
            for entry, k, conn in sent:
                try:
                    wait_for(
                        lambda k=k, conn=conn, entry=entry: k.get(conn, entry.id),
                        until=lambda r, k=k: r is None or getattr(r, "status", None) in k.gone_states,
                        timeout=self._timeouts.get(k.deleted_limit),
                        interval=min(2.0, self._timeouts.interval),
                        description=f"{entry.kind} {entry.name} ({entry.id}) to be deleted",
                    )
                    entry.state = "deleted"
                    self._write(entry)
                except Exception as exc:
                    errors.append(self._failed(entry, exc))
        return errors

    def _failed(self, entry: Entry, exc: BaseException) -> str:
        entry.state = "delete_failed"
        message = f"{entry.kind} {entry.name} ({entry.id or 'no id'}): {type(exc).__name__}: {exc}"
        self._write(entry, error=message)
        self._log(f"cleanup error: {message}")
        return message

    def _owned(self, conn: Any, k: Kind, entry: Entry) -> Any:
        """The cloud's object behind `entry.id` if it still carries the entry's name of this run; None when it is
        gone. Raises ForeignObject when the ID names something else (a stale or hand-edited ledger line)."""
        if not naming.belongs_to(entry.name, self.run_id):
            raise ForeignObject(f"the ledger names {entry.kind} {entry.name!r}, which is no name of run "
                                f"{self.run_id}: not deleted")
        resource = k.get(conn, entry.id)
        if resource is None or getattr(resource, "status", None) in k.gone_states:
            return None
        label = label_of(k, resource)
        if label != entry.name:
            raise ForeignObject(f"{entry.kind} {entry.id} is named {label!r} in the cloud, not {entry.name!r} "
                                "as the ledger says: not deleted")
        return resource

    def inspect(self, entry: Entry) -> str | None:
        """Why a cleanup would leave `entry` alone (None: it would delete it), sending only reads; raises
        ForeignObject when its ID names something that is not the run's."""
        k = kind(entry.kind)
        conn = self._connect(entry.cloud)
        if entry.id is None:
            entry.id = self._find_id(conn, k, entry.name)
            return None if entry.id else "not in the cloud (never created)"
        return None if self._owned(conn, k, entry) is not None else "already gone"

    @staticmethod
    def _find_id(conn: Any, k: Kind, label: str) -> str | None:
        for resource in k.listing(conn):
            if label_of(k, resource) == label:
                return resource.id
        return None

    # -- reading a run back ----------------------------------------------------------------------------
    @staticmethod
    def read(paths: Iterable[Path]) -> list[Entry]:
        """Replay ledger files into their latest entry per resource."""
        latest: dict[tuple[str, str], Entry] = {}
        for path in paths:
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                data = json.loads(line)
                fields = {k: data[k] for k in ("kind", "name", "cloud", "check", "id", "state")}
                latest[(data["kind"], data["name"])] = Entry(**fields)
        return list(latest.values())


class ForeignObject(Exception):
    """A ledger entry points at an object that is not (or no longer) the run's own."""


def find_of_run(conn: Any, run_id: str, kinds: Iterable[str] | None = None) -> tuple[list[Found], list[str]]:
    """Every resource visible to `conn` whose name is one of run `run_id`'s, and the kinds that could not be
    listed (each with why): a listing that fails must never read as "nothing there"."""
    naming.check_run_id(run_id)
    found: list[Found] = []
    unlisted: list[str] = []
    for name in kinds or sorted(KINDS, key=lambda n: KINDS[n].order):
        k = KINDS[name]
        try:
            for resource in k.listing(conn):
                label = label_of(k, resource)
                if naming.belongs_to(label, run_id) and getattr(resource, "status", None) not in GONE_STATES:
                    found.append(Found(name, resource.id, label))
        except (os_exc.NotFoundException, os_exc.ServiceDisabledException):
            # The cloud does not offer this API (no L3 routers, no image service in its catalogue): nothing of
            # the kind can exist.
            continue
        except Exception as exc:
            unlisted.append(f"{name} ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})")
    return found, unlisted
