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
from dataclasses import dataclass
from typing import Any

from stackproof.findings import expect
from stackproof.servers import usable_hosts

NOVA_STATE_PATH = "/var/lib/nova"  # what distributions set [DEFAULT] state_path to (nova's own is its package dir)


@dataclass(frozen=True)
class ComputeHost:
    name: str  # nova's [DEFAULT] host: what the compute API calls the host
    role: str
    host: Any  # testinfra host
    config_path: str
    conf: configparser.ConfigParser

    @property
    def where(self) -> str:
        return f"role {self.role}, host {self.host.backend.get_hostname()}, {self.config_path}"


def compute_hosts(hosts: Any, target: Any, role_prefix: str) -> list[ComputeHost]:
    """The hosts of every `role_prefix*` role whose nova.conf the target gives, by nova's name for them."""
    found = []
    for role in hosts.roles():
        if not role.startswith(role_prefix) or "nova" not in target.hosts[role].config:
            continue
        path = target.hosts[role].config["nova"]
        for host, conf in hosts.config(role, "nova"):
            name = conf.get("DEFAULT", "host", fallback="").strip() or host.backend.get_hostname()
            found.append(ComputeHost(name, role, host, path, conf))
    expect(bool(found), f"the target describes no {role_prefix}* host with a nova config",
           expected=f"a {role_prefix}* role with config.nova", found=hosts.roles(), where="target hosts")
    return found


def usable_compute(cloud: Any, hypervisor_type: str, among: list[str] | None = None) -> str:
    """The first host (by name) that can take a server now: nova-compute up and enabled, with a
    `hypervisor_type` hypervisor; among `among` (nova host names) when given, else among all hosts of that type."""
    hypervisors = list(cloud.compute.hypervisors(details=True))
    names = among if among is not None else sorted(
        {(hv.service_details or {}).get("host") for hv in hypervisors if hv.hypervisor_type == hypervisor_type}
        - {None})
    usable, seen = usable_hosts(cloud, names, hypervisor_type, hypervisors)
    expect(bool(usable), f"no {hypervisor_type} compute host can take a server",
           expected=f"one of {names} up, enabled, with a {hypervisor_type} hypervisor", found="; ".join(seen),
           where="compute API os-services, os-hypervisors")
    return usable[0]


def _nova_path(conf: configparser.ConfigParser, section: str, option: str, default: str) -> str:
    """A nova path option as oslo.config expands it ($state_path)."""
    state = conf.get("DEFAULT", "state_path", fallback="").strip() or NOVA_STATE_PATH
    value = conf.get(section, option, fallback="").strip() or default
    return value.replace("${state_path}", state).replace("$state_path", state)


def kvm_device_path(connection: dict[str, Any], compute: ComputeHost) -> str | None:
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
