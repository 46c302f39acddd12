"""AGG-8: asking for one host does not get an image past the image policy, in either direction."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import (
    KVM_HV_TYPE,
    NO_VALID_HOST,
    VMWARE_HV_TYPE,
    boot,
    fault_message,
    flavor_for,
    image_for,
    outcome,
    settled,
    where,
)
from suites.placement.servers import designed_aggregate, require_host_field, usable_host

pytestmark = [pytest.mark.placement]


@pytest.mark.control(
    "SP-AGG-008",
    title="A host request does not get an image onto the other hypervisor",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the matching "
              "aggregate, even when a host of the other aggregate is asked for.",
)
@pytest.mark.workload
def test_host_request_does_not_bypass_the_image_policy(cloud, run, topology, expected_aggregates, resources,
                                                       waiter) -> None:
    require_host_field(cloud)
    kvm_host = usable_host(cloud, topology, designed_aggregate(topology, expected_aggregates, KVM_HV_TYPE),
                           KVM_HV_TYPE)
    vmware_host = usable_host(cloud, topology, designed_aggregate(topology, expected_aggregates, VMWARE_HV_TYPE),
                              VMWARE_HV_TYPE)
    # The least protected image of each format: an untagged one, if the cloud holds any, relies on the
    # scheduler's other layers (placement's image type query) alone, which is what a host request tests.
    cases = [(image_for(cloud, "vmdk", VMWARE_HV_TYPE, run.prefix, untagged_first=True), kvm_host, KVM_HV_TYPE,
              "agg8-vmdk-on-kvm"),
             (image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix, untagged_first=True), vmware_host, VMWARE_HV_TYPE,
              "agg8-qcow2-on-vmw")]
    # Both boots are sent before either is awaited: the waits overlap.
    sent = []
    for image, host, host_type, hint in cases:
        flavor = flavor_for(cloud, image)
        sent.append((image, flavor, host, host_type, boot(resources, image=image, flavor=flavor, hint=hint, host=host)))
    wrong = []
    for image, flavor, host, host_type, server in sent:
        server = settled(cloud, waiter, server, f"{image.disk_format} image {image.name} asked onto {host}")
        line = f"{image.disk_format} image {image.name} asked onto {host_type} host {host}: {outcome(server)}"
        at = where(cloud, server, image, flavor)
        if not (server.status == "ERROR" and NO_VALID_HOST in fault_message(server)):
            wrong.append((line, at))
    expect(not wrong, "a host request got an image onto the other hypervisor's host"
           if any("ACTIVE" in line for line, _ in wrong) else "a host request did not end 'No valid host'",
           expected=f"ERROR with fault '{NO_VALID_HOST}' for each", found="; ".join(line for line, _ in wrong),
           where="; ".join(at for _, at in wrong))
