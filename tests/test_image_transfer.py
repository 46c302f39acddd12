"""The transfer measurements' plumbing: an upload goes through the ledger with the file, a cached image is found in
its cache folder, cache folders are found by name on a datastore."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackproof import datastore, image_transfer
from stackproof.vmdk_images import Built, Recipe


class Resources:
    def __init__(self) -> None:
        self.created = []

    def create(self, kind, **attrs):
        self.created.append((kind, attrs))
        return type("Image", (), {"id": "img-1", "name": "sp-x"})()


def test_upload_sends_the_file_through_the_ledger_and_times_it(tmp_path: Path) -> None:
    path = tmp_path / "d.vmdk"
    path.write_bytes(b"x")
    built = Built(Recipe("thin", "monolithicFlat", "thin", "extent", ""), path, 2**20, 0, 0)
    resources = Resources()
    timed = image_transfer.upload(resources, built, hint="h", properties={"vmware_disktype": "thin"}, timeout=5)
    kind, attrs = resources.created[0]
    assert kind == "image" and attrs["filename"] == str(path) and attrs["disk_format"] == "vmdk"
    assert attrs["vmware_disktype"] == "thin" and attrs["wait"] and timed.seconds >= 0 and timed.value.id == "img-1"


def test_the_cached_disk_is_found_in_its_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def listing(_si, _browser, path):
        seen.append(path)
        return [datastore.DatastoreFile("img-1.vmdk", False, 10, None, 20, True),
                datastore.DatastoreFile("img-1.1.vmdk", False, 10, None, 30, True)]

    monkeypatch.setattr(datastore, "list_folder", listing)
    cached = image_transfer.cached_image(None, None, "ds1", "10.0.0.1_base", "img-1")
    assert cached.path == "[ds1] 10.0.0.1_base/img-1" == seen[0] and cached.disk.capacity == 20
    assert cached.folder == "10.0.0.1_base"


def test_cache_folders_are_the_root_folders_with_the_cache_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    root = [datastore.DatastoreFile(n, folder, None, None) for n, folder in (
        ("10.0.0.2_base", True), ("_base", True), ("vm-1", True), ("x_base", False))]
    monkeypatch.setattr(datastore, "list_folder", lambda *_a: root)
    assert image_transfer.cache_folders(None, None, "ds1", "_base") == ["10.0.0.2_base", "_base"]
