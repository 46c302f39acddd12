"""How the vmdk checks see a server's VM, root disk and image cache in vCenter (the compute's own vCenter, found by
the instance UUID in its hypervisor's name), and how they take a server away between two boots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackproof import datastore
from stackproof.findings import expect
from stackproof.image_transfer import cache_folders, vm_of
from suites.vmdk.computes import VmwareCompute, require_config
from suites.vmdk.nova_vmware import cache_folder, option


def compute_of(vmware_computes: list[VmwareCompute], server: Any) -> VmwareCompute:
    found = [c for c in vmware_computes if c.host == server.compute_host]
    expect(bool(found), f"server {server.id} is not on a VMware compute",
           expected=f"compute_host one of {[c.host for c in vmware_computes]}",
           found=f"compute_host {server.compute_host}", where=f"server {server.id}")
    return found[0]


def vcenter_of(vcenters: Any, compute: VmwareCompute) -> tuple[str, Any]:
    """(name, session) of the vCenter whose instance UUID the compute's hypervisor name carries."""
    uuid = compute.hypervisor.split(".", 1)[-1]
    for name in vcenters.names():
        si = vcenters.get(name)
        if si.RetrieveContent().about.instanceUuid == uuid:
            return name, si
    expect(False, f"no vCenter of the target has instance UUID {uuid} (compute {compute.host})",
           expected=f"a vCenter with instance UUID {uuid}", found=f"vCenters {vcenters.names()}",
           where=f"hypervisor {compute.hypervisor}")
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RootDisk:
    file: str  # [ds] folder/file.vmdk
    controller: str  # the controller's class, e.g. VirtualLsiLogicController
    capacity: int  # bytes, as the VM's device says
    thin: bool
    eager: bool
    parent: str | None  # a linked clone's parent disk

    def describe(self) -> str:
        kind = "thin" if self.thin else ("eagerZeroedThick" if self.eager else "thick")
        return (f"{self.file} on {self.controller}, {self.capacity} bytes, {kind}"
                + (f", parent {self.parent}" if self.parent else ""))


def root_disk(si: Any, server_id: str) -> RootDisk | None:
    """The first virtual disk of the server's VM (nova's root disk), or None when vCenter has no such VM."""
    from pyVmomi import vim

    vm = vm_of(si, server_id, ["config.hardware.device"])
    if vm is None:
        return None
    devices = vm.get("config.hardware.device") or []
    controllers = {d.key: type(d).__name__.rsplit(".", 1)[-1] for d in devices
                   if isinstance(d, vim.vm.device.VirtualController)}
    disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    if not disks:
        return None
    disk = min(disks, key=lambda d: (d.controllerKey, d.unitNumber or 0))
    backing = disk.backing
    capacity = disk.capacityInBytes or (disk.capacityInKB or 0) * 1024
    parent = getattr(backing, "parent", None)
    return RootDisk(backing.fileName, controllers.get(disk.controllerKey, "unknown"), capacity,
                    bool(getattr(backing, "thinProvisioned", False)), bool(getattr(backing, "eagerlyScrub", False)),
                    parent.fileName if parent is not None else None)


def disk_file(si: Any, path: str) -> datastore.DatastoreFile | None:
    """A disk as the datastore browser shows it (`[ds] folder/name.vmdk`)."""
    ds_name, rel = datastore.split_path(path)
    folder, _, name = rel.rpartition("/")
    browser = datastore.browsers(si).get(ds_name)
    if browser is None:
        return None
    return datastore.disk(datastore.list_folder(si, browser, datastore.datastore_path(ds_name, folder)), name)


def image_cache_folders(si: Any, compute: VmwareCompute, ds_name: str) -> list[str]:
    """Where the compute's driver caches images on `ds_name`: derived from its nova.conf, else (my_ip left to
    nova) the cache folders found on the datastore."""
    conf = require_config(compute)
    folder = cache_folder(conf)
    if folder is not None:
        return [folder]
    browser = datastore.browsers(si)[ds_name]
    return cache_folders(si, browser, ds_name, option(conf, "image_cache", "subdirectory_name"))


def delete_server(cloud: Any, waiter: Any, server: Any) -> None:
    """Delete a server the check booted and wait until the API answers 404 (the ledger finds it gone later)."""
    cloud.compute.delete_server(server.id, ignore_missing=True)
    waiter.until(lambda: cloud.compute.find_server(server.id, ignore_missing=True), limit="server_deleted",
                 until=lambda s: s is None, state=lambda s: "gone" if s is None else f"{s.status}/{s.task_state}",
                 description=f"server {server.id} to be deleted")
