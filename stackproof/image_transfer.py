"""What it costs to bring a VMDK image from Glance to a datastore: upload it, boot it, time it, find its copy.

nova's VMware driver copies an image into the datastore's image cache on the first boot there
(nova/virt/vmwareapi/vmops.py `_fetch_image_if_missing`): it streams the image's whole body from Glance into
the datastore (an HTTP PUT to vCenter's /folder, or an NFC import for streamOptimized) and converts it in place;
later boots on that datastore clone the cached disk. So the bytes that move are the image's size in Glance, and
the copy's cost is what the first boot takes beyond a boot from the cache. The vmdk checks and
benchmarks/vmdk_transfer.py measure both with these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stackproof import datastore
from stackproof.servers import boot, has_ended
from stackproof.vmdk_images import Built
from stackproof.vsphere import properties_of

TIMING_POLL = 0.25  # seconds between server reads while a boot is timed: the figures' resolution


@dataclass(frozen=True)
class Timed:
    value: Any
    seconds: float


def upload(resources: Any, built: Built, *, hint: str, properties: dict[str, str], timeout: float) -> Timed:
    """Create an image from `built` through the ledger and upload its file (one PUT); time both. Glance refusing
    the bytes raises openstack's HttpException with its answer (the image record stays in the ledger)."""
    started = time.monotonic()
    image = resources.create("image", hint=hint, filename=str(built.path), disk_format="vmdk",
                             container_format="bare", wait=True, timeout=timeout, allow_duplicates=True,
                             **properties)
    return Timed(image, time.monotonic() - started)


def timed_boot(cloud: Any, resources: Any, waiter: Any, *, image: Any, flavor: Any, hint: str,
               host: str | None = None) -> Timed:
    """Boot `image` and wait for the end state (ACTIVE or ERROR), polling finely; the seconds from the create
    request to the end state."""
    started = time.monotonic()
    server = boot(resources, image=image, flavor=flavor, hint=hint, host=host)
    server = waiter.until(lambda: cloud.compute.get_server(server.id), limit="server_active", until=has_ended(),
                          interval=TIMING_POLL, state=lambda s: f"{s.status}/{s.task_state}",
                          description=f"a server from image {image.name} to become ACTIVE or ERROR")
    return Timed(server, time.monotonic() - started)


def vm_of(si: Any, server_id: str, paths: list[str]) -> dict[str, Any] | None:
    """Properties of the VM nova made for `server_id` (config.instanceUuid), or None when vCenter has none."""
    index = si.RetrieveContent().searchIndex
    found = index.FindAllByUuid(uuid=server_id, vmSearch=True, instanceUuid=True) or []
    return properties_of(si, found[0], paths) if found else None


def vm_datastore(si: Any, server_id: str) -> str | None:
    """The datastore holding the server's VM (its .vmx): the one nova put the image cache on for this boot."""
    vm = vm_of(si, server_id, ["config.files.vmPathName"])
    path = (vm or {}).get("config.files.vmPathName")
    return datastore.split_path(path)[0] if path else None


@dataclass(frozen=True)
class CachedImage:
    folder: str  # the cache folder on the datastore (<cache_prefix or my_ip>_base)
    path: str  # [ds] <cache folder>/<image id>
    disk: datastore.DatastoreFile | None  # <image id>.vmdk there: the cached copy


def cached_image(si: Any, browser: Any, ds_name: str, cache_folder: str, image_id: str) -> CachedImage:
    """The image's cached disk in `cache_folder` of datastore `ds_name` (disk None when not cached there)."""
    path = datastore.datastore_path(ds_name, cache_folder, image_id)
    files = datastore.list_folder(si, browser, path)
    return CachedImage(cache_folder, path, datastore.disk(files, f"{image_id}.vmdk"))


def cache_folders(si: Any, browser: Any, ds_name: str, subdirectory: str) -> list[str]:
    """Folders at the root of a datastore that nova's driver made for its image cache (`*<subdirectory>`):
    where to look when a compute's cache folder cannot be derived from its config (my_ip left to nova)."""
    root = datastore.list_folder(si, browser, datastore.datastore_path(ds_name)) or []
    return sorted(f.name for f in root if f.folder and f.name.endswith(subdirectory))
