"""AGG-7: a qcow2 image lands on the KVM aggregate, on a QEMU hypervisor."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, boot, flavor_for, image_for, outcome, settled, where
from suites.placement.servers import designed_aggregate

pytestmark = [pytest.mark.placement]


@pytest.mark.control(
    "SP-AGG-007",
    title="A qcow2 image lands on the KVM aggregate",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the matching "
              "aggregate: general instances go to the host aggregate of KVM hypervisors.",
)
@pytest.mark.workload
def test_qcow2_image_lands_on_kvm(cloud, run, topology, expected_aggregates, resources, waiter) -> None:
    aggregate = designed_aggregate(topology, expected_aggregates, KVM_HV_TYPE)
    image = image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, image)
    server = settled(cloud, waiter, boot(resources, image=image, flavor=flavor, hint="agg7-qcow2"),
                     f"a server from qcow2 image {image.name} to become ACTIVE or ERROR")
    at = where(cloud, server, image, flavor)
    expect(server.status == "ACTIVE", f"a server from qcow2 image {image.name} did not boot",
           expected="ACTIVE", found=outcome(server), where=at)
    hypervisors = [hv for hv in cloud.compute.hypervisors(details=True) if hv.name == server.hypervisor_hostname]
    types = sorted({hv.hypervisor_type for hv in hypervisors})
    expect(server.compute_host in (aggregate.hosts or []) and types == [KVM_HV_TYPE],
           f"a server from qcow2 image {image.name} landed outside the KVM aggregate {aggregate.name}",
           expected=f"compute_host in {sorted(aggregate.hosts or [])}, hypervisor_type {KVM_HV_TYPE}",
           found=f"{outcome(server)}, hypervisor_type {types or 'unknown'}", where=at)
