"""Compute hosts as both nova and testinfra know them, and where an attached volume shows on a KVM host.

The compute API names a host by nova's `[DEFAULT] host`; the target reaches it by a testinfra URL. The two
meet in the nova.conf the target points at on that host. A volume attached to a KVM server is a file or a
block device on its compute host, at a path nova's libvirt volume drivers derive from the connection info
cinder handed out (nova/virt/libvirt/volume/fs.py, iscsi.py via os-brick).
"""

from __future__ import annotations

import configparser
import hashlib
import posixpath
from typing import Any

from stackproof.findings import expect
from stackproof.plugin.hosts import ServiceHost
from stackproof.servers import usable_hosts

NOVA_STATE_PATH = "/var/lib/nova"  # what distributions set [DEFAULT] state_path to (nova's own is its package dir)


def compute_hosts(cloud: Any, hosts: Any, hypervisor_type: str) -> list[ServiceHost]:
    """Every compute the cloud lists with a `hypervisor_type` hypervisor, with the inventory host whose nova.conf
    names it; a compute the inventory does not describe is a finding (the check cannot look at it)."""
    names = sorted({(hv.service_details or {}).get("host") for hv in cloud.compute.hypervisors(details=True)
                    if hv.hypervisor_type == hypervisor_type} - {None})
    expect(bool(names), f"the cloud has no {hypervisor_type} compute", expected=f"a {hypervisor_type} hypervisor",
           found="none", where="compute API os-hypervisors")
    scope = hosts.scope(names, "nova", claims=())
    expect(not scope.undescribed, f"{hypervisor_type} compute(s) {', '.join(scope.undescribed)} are not in the "
           "target's inventory (not evaluated)", expected=f"a host with the nova.conf of each of {names}",
           found="; ".join(scope.gaps("nova-compute")), where="compute API os-hypervisors; target hosts")
    return [items[0] for _name, items in sorted(scope.covered.items())]


def usable_computes(cloud: Any, hypervisor_type: str, among: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The hosts (by name) that can take a server now: nova-compute up and enabled, with a `hypervisor_type`
    hypervisor; among `among` (nova host names) when given, else among all hosts of that type. Also a line for
    each host that cannot. None that can is a finding."""
    hypervisors = list(cloud.compute.hypervisors(details=True))
    names = among if among is not None else sorted(
        {(hv.service_details or {}).get("host") for hv in hypervisors if hv.hypervisor_type == hypervisor_type}
        - {None})
    usable, seen = usable_hosts(cloud, names, hypervisor_type, hypervisors)
    expect(bool(usable), f"no {hypervisor_type} compute host can take a server",
           expected=f"one of {names} up, enabled, with a {hypervisor_type} hypervisor", found="; ".join(seen),
           where="compute API os-services, os-hypervisors")
    return usable, [line for name, line in zip(names, seen, strict=True) if name not in usable]


def usable_compute(cloud: Any, hypervisor_type: str, among: list[str] | None = None) -> str:
    """The first host (by name) that can take a server now (see usable_computes)."""
    return usable_computes(cloud, hypervisor_type, among)[0][0]


def _nova_path(conf: configparser.ConfigParser, section: str, option: str, default: str) -> str:
    """A nova path option as oslo.config expands it ($state_path)."""
    state = conf.get("DEFAULT", "state_path", fallback="").strip() or NOVA_STATE_PATH
    value = conf.get(section, option, fallback="").strip() or default
    return value.replace("${state_path}", state).replace("$state_path", state)


def kvm_device_path(connection: dict[str, Any], compute: ServiceHost) -> str | None:
    """Where nova's libvirt driver put the attached volume on the compute host, for the transports whose path
    the host shows (a file on the NFS share nova mounted, an iSCSI block device); None for others (rbd: qemu
    opens the image itself, there is no host path)."""
    kind = str(connection.get("driver_volume_type", "")).lower()
    # cinder's attachment records keep the driver's data flattened into the connection info
    data = connection.get("data") or connection
    if kind == "nfs":
        base = _nova_path(compute.conf, "libvirt", "nfs_mount_point_base", "$state_path/mnt")
        share = hashlib.md5(str(data["export"]).encode(), usedforsecurity=False).hexdigest()
        return posixpath.join(base, share, str(data["name"]))
    if kind in ("iscsi", "iser"):
        return (f"/dev/disk/by-path/ip-{data['target_portal']}-iscsi-{data['target_iqn']}"
                f"-lun-{data.get('target_lun', 0)}")
    return None
