"""Datastore folders through the datastore browser: paths, the search task's outcome, what a disk entry says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyVmomi import vim

from stackproof import datastore


def test_paths_are_written_and_read_the_vsphere_way() -> None:
    assert datastore.datastore_path("ds1", "_base/", "/img") == "[ds1] _base/img"
    assert datastore.datastore_path("ds1") == "[ds1]"
    assert datastore.split_path("[ds1] a/b.vmdk") == ("ds1", "a/b.vmdk")
    with pytest.raises(ValueError, match="not a datastore path"):
        datastore.split_path("a/b.vmdk")


class Browser:
    def __init__(self) -> None:
        self.calls = []

    def SearchDatastore_Task(self, datastorePath, searchSpec):
        self.calls.append((datastorePath, searchSpec))
        return vim.Task("task-1")


def _answers(monkeypatch: pytest.MonkeyPatch, *states: dict) -> None:
    replies = list(states)
    monkeypatch.setattr(datastore, "properties_of", lambda _si, _obj, _paths: replies.pop(0))
    monkeypatch.setattr(datastore, "SEARCH_POLL", 0)


def test_a_folder_lists_disks_with_capacity_and_provisioning(monkeypatch: pytest.MonkeyPatch) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    disk = vim.host.DatastoreBrowser.VmDiskInfo(path="img.vmdk", fileSize=4 * 2**20, modification=when,
                                                capacityKb=65536, thin=True)
    folder = vim.host.DatastoreBrowser.FolderInfo(path="ts-2026", fileSize=4096, modification=when)
    result = vim.host.DatastoreBrowser.SearchResults(file=[disk, folder])
    _answers(monkeypatch, {"info.state": "running"}, {"info.state": "success", "info.result": result})
    browser = Browser()
    files = datastore.list_folder(None, browser, "[ds1] _base/img")
    assert files == [
        datastore.DatastoreFile("img.vmdk", False, 4 * 2**20, when, 64 * 2**20, True),
        datastore.DatastoreFile("ts-2026", True, 4096, when, None, None),
    ]
    assert datastore.disk(files, "img.vmdk").thin is True and datastore.disk(files, "ts-2026") is None
    spec = browser.calls[0][1]
    assert spec.details.fileSize and spec.query[0].details.thin and spec.query[0].details.capacityKb


def test_a_missing_folder_is_none_and_other_errors_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, {"info.state": "error", "info.error": vim.fault.FileNotFound(file="[ds1] x")})
    assert datastore.list_folder(None, Browser(), "[ds1] x") is None
    _answers(monkeypatch, {"info.state": "error", "info.error": vim.fault.NoPermission(msg="denied")})
    with pytest.raises(datastore.DatastoreError, match="NoPermission"):
        datastore.list_folder(None, Browser(), "[ds1] x")


def test_a_search_that_never_ends_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastore, "properties_of", lambda *_a: {"info.state": "running"})
    monkeypatch.setattr(datastore, "SEARCH_POLL", 0)
    with pytest.raises(datastore.DatastoreError, match=r"gave up after 0\.01 s"):
        datastore.list_folder(None, Browser(), "[ds1] x", timeout=0.01)
