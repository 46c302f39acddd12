"""Capabilities the failover checks share: the VMware nova-compute services and their hypervisors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

VMWARE_HV_TYPE = "VMware vCenter Server"


@dataclass(frozen=True)
class VmwareComputes:
    services: list  # nova-compute services whose hypervisors are vCenter clusters
    hypervisors: list  # VMware hypervisors (details)

    def hypervisors_of(self, host: str) -> list:
        return [hv for hv in self.hypervisors if (hv.service_details or {}).get("host") == host]


@pytest.fixture(scope="module")
def vmware_computes(cloud, target) -> VmwareComputes:
    vmware_aggs = [a.name for a in target.architecture.aggregates if a.hypervisor_type == VMWARE_HV_TYPE]
    if not vmware_aggs:
        pytest.skip("the target declares no VMware aggregate")
    # A VMware compute is one whose hypervisor is a vCenter cluster; aggregate membership is SP-AGG-002's concern.
    hypervisors = [hv for hv in cloud.compute.hypervisors(details=True) if hv.hypervisor_type == VMWARE_HV_TYPE]
    hosts = {(hv.service_details or {}).get("host") for hv in hypervisors}
    services = [s for s in cloud.compute.services(binary="nova-compute") if s.host in hosts]
    return VmwareComputes(services=services, hypervisors=hypervisors)


@pytest.fixture(scope="module")
def failover_timing(target):
    if target.architecture.failover is None:
        pytest.skip("the target declares no failover timing (architecture.failover)")
    return target.architecture.failover
