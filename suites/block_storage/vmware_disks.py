"""A server's VM in vCenter and the virtual disks a volume became there, read through the PropertyCollector.

nova's VMware driver gives the VM the server's ID as config.instanceUuid; cinder's VMDK driver gives a
volume's disk the volume's ID as its UUID (backing.uuid), which is how nova finds the disk to detach.
"""

from __future__ import annotations

from typing import Any

from stackproof.findings import expect
from stackproof.vsphere import vms_of_instance

VM_PATHS = ["name", "config.hardware.device", "runtime.powerState"]
# vmware:vmdk_type -> the backing flags vSphere shows for a disk of that type (unset: thin).
DISK_FLAGS = {
    "thin": {"thinProvisioned": True, "eagerlyScrub": False},
    "thick": {"thinProvisioned": False, "eagerlyScrub": False},
    "eagerZeroedThick": {"thinProvisioned": False, "eagerlyScrub": True},
}


def server_vm(vcenters: Any, server: Any) -> tuple[str, dict[str, Any]]:
    """The one VM vCenter runs for `server`: (vCenter name, its properties)."""
    sessions = {name: vcenters.get(name) for name in vcenters.names()}
    found = vms_of_instance(sessions, server.id, VM_PATHS)
    expect(len(found) == 1, f"vCenter does not hold exactly one VM for server {server.id}",
           expected=f"one VM with config.instanceUuid {server.id}",
           found=[f"{name}: {vm['obj']._moId} ({vm.get('name')})" for name, vm in found] or "none",
           where=f"vCenters {sorted(sessions)}, server {server.id} on {server.compute_host}")
    return found[0]


def disks_of(vm: dict[str, Any]) -> list[Any]:
    from pyVmomi import vim

    return [d for d in vm.get("config.hardware.device") or [] if isinstance(d, vim.vm.device.VirtualDisk)]


def volume_disks(vm: dict[str, Any], volume_id: str) -> list[Any]:
    """The VM's virtual disks that are `volume_id`'s (by disk UUID, or by the volume's file name)."""
    return [d for d in disks_of(vm)
            if getattr(d.backing, "uuid", None) == volume_id or f"volume-{volume_id}" in (d.backing.fileName or "")]


def disk_flags(disk: Any) -> dict[str, bool]:
    return {"thinProvisioned": bool(getattr(disk.backing, "thinProvisioned", False)),
            "eagerlyScrub": bool(getattr(disk.backing, "eagerlyScrub", False))}


def describe_disks(vm: dict[str, Any]) -> list[str]:
    return [f"{d.deviceInfo.label if d.deviceInfo else d.key}: {d.backing.fileName} uuid="
            f"{getattr(d.backing, 'uuid', None)} {disk_flags(d)}" for d in disks_of(vm)]
