"""Datastore files as vCenter shows them: the HostDatastoreBrowser, read like any vSphere client reads it.

A folder is listed with `SearchDatastore_Task` (a read: allowed in readonly checks), asking for file sizes,
modification times and, for virtual disks, their capacity and provisioning (`VmDiskFileQuery`). A disk is one
entry for its descriptor; its size is what the disk occupies on the datastore (a thin disk's used space), its
capacity what it was provisioned with. Nothing here reads a datastore's files by any other way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stackproof.vsphere import properties_of, retrieve

SEARCH_TIMEOUT = 60.0  # seconds; a folder listing takes milliseconds on vCenter, seconds on a busy one
SEARCH_POLL = 0.1


class DatastoreError(Exception):
    """vCenter could not list a datastore folder (other than: the folder does not exist)."""


@dataclass(frozen=True)
class DatastoreFile:
    name: str
    folder: bool
    size: int | None  # bytes on the datastore (a disk: descriptor plus extent, a thin extent's used bytes)
    modified: datetime | None
    capacity: int | None = None  # a disk's provisioned bytes
    thin: bool | None = None  # a disk's provisioning


def datastore_path(datastore: str, *parts: str) -> str:
    """`[datastore] a/b/c`, the notation vSphere paths use."""
    rel = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return f"[{datastore}] {rel}".rstrip()


def split_path(path: str) -> tuple[str, str]:
    """`[ds] a/b.vmdk` -> ("ds", "a/b.vmdk")."""
    if not path.startswith("[") or "]" not in path:
        raise ValueError(f"{path!r} is not a datastore path ([datastore] folder/file)")
    name, _, rel = path[1:].partition("]")
    return name, rel.strip()


def browsers(si: Any) -> dict[str, Any]:
    """Datastore name -> its HostDatastoreBrowser, for every datastore the vCenter has (one round trip)."""
    from pyVmomi import vim

    return {d["name"]: d["browser"] for d in retrieve(si, vim.Datastore, ["name", "browser"]) if "browser" in d}


def _search_spec() -> Any:
    from pyVmomi import vim

    browser = vim.host.DatastoreBrowser
    return browser.SearchSpec(
        matchPattern=["*"],
        details=browser.FileInfo.Details(fileSize=True, modification=True, fileType=True),
        query=[browser.VmDiskQuery(details=browser.VmDiskQuery.Details(capacityKb=True, thin=True, diskType=True)),
               browser.FolderQuery()],
    )


def _as_file(info: Any) -> DatastoreFile:
    from pyVmomi import vim

    capacity = getattr(info, "capacityKb", None)
    return DatastoreFile(
        name=info.path,
        folder=isinstance(info, vim.host.DatastoreBrowser.FolderInfo),
        size=info.fileSize,
        modified=info.modification,
        capacity=capacity * 1024 if capacity else None,
        thin=getattr(info, "thin", None),
    )


def list_folder(si: Any, browser: Any, path: str, timeout: float = SEARCH_TIMEOUT) -> list[DatastoreFile] | None:
    """The disks and folders in datastore folder `path` (`[ds] folder`), or None when it does not exist."""
    from pyVmomi import vim

    task = browser.SearchDatastore_Task(datastorePath=path, searchSpec=_search_spec())
    deadline = time.monotonic() + timeout
    while True:
        info = properties_of(si, task, ["info.state", "info.result", "info.error"])
        state = str(info.get("info.state"))
        if state == "success":
            result = info.get("info.result")
            return [_as_file(f) for f in (result.file or [])] if result is not None else []
        if state == "error":
            error = info.get("info.error")
            if isinstance(error, vim.fault.FileNotFound):
                return None
            raise DatastoreError(f"listing {path} failed: {type(error).__name__} {getattr(error, 'msg', '')}")
        if time.monotonic() > deadline:
            raise DatastoreError(f"gave up after {timeout:g} s waiting for vCenter to list {path} (task "
                                 f"{task._moId} still {state})")
        time.sleep(SEARCH_POLL)


def disk(files: list[DatastoreFile] | None, name: str) -> DatastoreFile | None:
    """The disk `name` (a descriptor's file name) among `files`."""
    return next((f for f in files or [] if f.name == name and not f.folder), None)
