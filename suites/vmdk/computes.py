"""The cloud's VMware computes as the vmdk checks see them: each hypervisor the cloud lists as a vCenter cluster,
with the nova.conf the target's host inventory gives for its compute (matched by [DEFAULT] host)."""

from __future__ import annotations

import configparser
from dataclasses import dataclass

import pytest

from stackproof.findings import expect
from stackproof.servers import VMWARE_HV_TYPE


@dataclass(frozen=True)
class VmwareCompute:
    host: str  # nova's name for the compute (the service's host)
    hypervisor: str  # <cluster moid>.<vCenter instance UUID>
    conf: configparser.ConfigParser | None  # its nova.conf, None when the target's inventory has none
    where: str  # where that nova.conf was read (or why it was not)

    @property
    def cluster_moid(self) -> str:
        return self.hypervisor.split(".", 1)[0]


def find_vmware_computes(cloud, hosts) -> list[VmwareCompute]:
    """Every compute whose hypervisor the cloud lists as a vCenter cluster, with the nova.conf the target's host
    inventory gives for it (the inventory host whose [DEFAULT] host names it)."""
    hypervisors = [hv for hv in cloud.compute.hypervisors(details=True) if hv.hypervisor_type == VMWARE_HV_TYPE]
    if not hypervisors:
        pytest.skip("not evaluated: the cloud lists no VMware vCenter Server hypervisor")
    names = {hv.id: (hv.service_details or {}).get("host") or "" for hv in hypervisors}
    scope = hosts.computes(sorted(set(names.values())))
    computes = []
    for hv in sorted(hypervisors, key=lambda h: (h.name, names[h.id])):
        host = names[hv.id]
        found = scope.covered.get(host)
        if found:
            computes.append(VmwareCompute(host, hv.name, found[0].conf, found[0].where))
        else:
            computes.append(VmwareCompute(host, hv.name, None, f"compute {host} is not in the target's inventory "
                                                               "(no host whose nova.conf has this [DEFAULT] host)"))
    return computes


def require_config(compute: VmwareCompute) -> configparser.ConfigParser:
    """The compute's nova.conf; a check that needs it fails naming the compute when the inventory lacks it."""
    expect(compute.conf is not None, f"compute {compute.host} is not covered: the target describes no nova.conf for "
           "it", expected=f"a compute-* host role whose nova.conf has [DEFAULT] host={compute.host}",
           found=compute.where, where=f"hypervisor {compute.hypervisor}")
    return compute.conf
