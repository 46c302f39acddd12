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


@dataclass(frozen=True)
class BootSpec:
    """What a failover check boots on a VMware compute: the cloud's VMware image and its smallest flavor."""

    image_id: str
    image_name: str
    flavor_id: str
    flavor_name: str


@pytest.fixture(scope="module")
def vmware_boot(cloud) -> BootSpec:
    images = [i for i in cloud.image.images(status="active")
              if i.disk_format == "vmdk" and getattr(i, "hypervisor_type", None) == "vmware"]
    if not images:
        pytest.skip("the cloud has no active vmdk image with hypervisor_type=vmware to boot on a VMware compute")
    image = sorted(images, key=lambda i: (i.size or 0, i.name or ""))[0]
    # Flavors that pin to an aggregate through extra specs would fight the host the check asks for.
    flavors = [f for f in cloud.compute.flavors(details=True, is_public=True)
               if not any(k.startswith("aggregate_instance_extra_specs") for k in (f.extra_specs or {}))
               and (f.disk or 0) >= (image.min_disk or 0)]
    if not flavors:
        pytest.skip(f"no public flavor fits image {image.name} without pinning it to an aggregate")
    flavor = min(flavors, key=lambda f: (f.ram, f.vcpus, f.disk, f.name))
    return BootSpec(image.id, image.name, flavor.id, flavor.name)
