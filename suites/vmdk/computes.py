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


def find_vmware_computes(cloud, hosts, target) -> list[VmwareCompute]:
    """Every compute whose hypervisor the cloud lists as a vCenter cluster, with the nova.conf the target's host
    inventory gives for it (matched by [DEFAULT] host)."""
    hypervisors = [hv for hv in cloud.compute.hypervisors(details=True) if hv.hypervisor_type == VMWARE_HV_TYPE]
    if not hypervisors:
        pytest.skip("not evaluated: the cloud lists no VMware vCenter Server hypervisor")
    configs: dict[str, tuple[configparser.ConfigParser, str]] = {}
    for role in hosts.roles():
        if not role.startswith("compute") or "nova" not in target.hosts[role].config:
            continue
        for host, conf in hosts.config(role, "nova"):
            if conf.get("DEFAULT", "compute_driver", fallback="").endswith("VMwareVCDriver"):
                name = conf.get("DEFAULT", "host", fallback="").strip() or host.backend.get_hostname()
                configs[name] = (conf, f"role {role}, host {host.backend.get_hostname()}, "
                                       f"{target.hosts[role].config['nova']}")
    computes = []
    for hv in sorted(hypervisors, key=lambda h: h.name):
        host = (hv.service_details or {}).get("host")
        conf, where = configs.get(host, (None, f"no nova.conf for compute {host} in the target's host inventory"))
        computes.append(VmwareCompute(host, hv.name, conf, where))
    return computes


def require_config(compute: VmwareCompute) -> configparser.ConfigParser:
    """The compute's nova.conf; a check that needs it fails naming the compute when the inventory lacks it."""
    expect(compute.conf is not None, f"compute {compute.host} is not covered: the target describes no nova.conf for "
           "it", expected=f"a compute-* host role whose nova.conf has [DEFAULT] host={compute.host}",
           found=compute.where, where=f"hypervisor {compute.hypervisor}")
    return compute.conf
