"""AGG-8 and AGG-9: asking for one host does not get an image past the image policy, and an image without
hypervisor metadata meets the isolation the target declares."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.vmdk import monolithic_sparse
from suites.placement.servers import (
    KVM_HV_TYPE,
    NO_VALID_HOST,
    VMWARE_HV_TYPE,
    boot,
    designed_aggregate,
    fault_message,
    flavor_for,
    hypervisor_tag,
    image_for,
    outcome,
    settled,
    usable_host,
    where,
)

pytestmark = [pytest.mark.placement]

HOST_FIELD_MICROVERSION = (2, 74)  # `host` in the create request: a host request the scheduler still filters
UNTAGGED_IMAGE_SIZE = 64 * 1024 * 1024  # below every flavor's disk, ~64 KiB to upload (no grain allocated)


def _microversion(cloud) -> tuple[int, int]:
    data = cloud.compute.get_endpoint_data()
    found = tuple(data.max_microversion or (2, 1)) if data else (2, 1)
    expect(found >= HOST_FIELD_MICROVERSION, "the compute API cannot ask for a host through the scheduler",
           expected="max microversion >= 2.74 (`host` in the create request)",
           found=f"max microversion {'.'.join(map(str, found))}", where=f"compute API {data.url if data else '?'}")
    return found


@pytest.mark.control(
    "SP-AGG-008",
    title="A host request does not get an image onto the other hypervisor",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the matching "
              "aggregate, even when a host of the other aggregate is asked for.",
)
@pytest.mark.workload
def test_host_request_does_not_bypass_the_image_policy(cloud, run, topology, expected_aggregates, resources,
                                                       waiter) -> None:
    _microversion(cloud)
    kvm_host = usable_host(cloud, topology, designed_aggregate(topology, expected_aggregates, KVM_HV_TYPE),
                           KVM_HV_TYPE)
    vmware_host = usable_host(cloud, topology, designed_aggregate(topology, expected_aggregates, VMWARE_HV_TYPE),
                              VMWARE_HV_TYPE)
    cases = [(image_for(cloud, "vmdk", VMWARE_HV_TYPE, run.prefix), kvm_host, KVM_HV_TYPE, "agg8-vmdk-on-kvm"),
             (image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix), vmware_host, VMWARE_HV_TYPE, "agg8-qcow2-on-vmw")]
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


@pytest.mark.control(
    "SP-AGG-009",
    title="An image without hypervisor metadata meets the declared isolation on a VMware host",
    statement="Images in Glance carry hypervisor metadata, so an instance lands on the matching aggregate. "
              "AggregateImagePropertiesIsolation alone admits images that carry none (nova bug 1677217); "
              "isolate_aggregates refuses them: the deployed policy is the declared one.",
)
@pytest.mark.workload
def test_untagged_image_meets_the_declared_isolation(cloud, run, topology, expected_aggregates, image_policy,
                                                     resources, waiter, record_property) -> None:
    _microversion(cloud)
    declared = list(image_policy.isolation)
    record_property("image_policy.declared", ",".join(declared))
    host = usable_host(cloud, topology, designed_aggregate(topology, expected_aggregates, VMWARE_HV_TYPE),
                       VMWARE_HV_TYPE)
    name = resources.name("agg9-untagged")
    # A VMDK the VMware driver can use (sparse, lsiLogic), with no hypervisor_type: nothing ties it anywhere.
    image = resources.create("image", name=name, data=monolithic_sparse(UNTAGGED_IMAGE_SIZE, file_name=f"{name}.vmdk"),
                             disk_format="vmdk", container_format="bare", wait=True, timeout=waiter.timeouts.default,
                             vmware_disktype="sparse", vmware_adaptertype="lsiLogic")
    image = cloud.image.get_image(image.id)
    expect(image.status == "active" and hypervisor_tag(image) is None, f"image {name} is not an active untagged vmdk",
           expected="status active, no hypervisor_type",
           found=f"status {image.status}, hypervisor_type {hypervisor_tag(image)}", where=f"image {image.id}")
    flavor = flavor_for(cloud, image)
    server = settled(cloud, waiter, boot(resources, image=image, flavor=flavor, hint="agg9-untagged", host=host),
                     f"untagged vmdk image {image.name} asked onto {host}")
    at = where(cloud, server, image, flavor)
    if server.status == "ACTIVE" and server.compute_host == host:
        observed = "admitted"
        record_property("image_policy.observed",
                        "aggregate_image_properties_isolation alone: untagged image admitted (nova bug 1677217)")
    elif server.status == "ERROR" and NO_VALID_HOST in fault_message(server):
        observed = "refused"
        record_property("image_policy.observed", "isolate_aggregates: untagged image refused")
    else:
        observed = "neither"
    expect(observed != "neither", f"untagged image {image.name} asked onto {host} was neither admitted nor refused",
           expected=f"ACTIVE on {host}, or ERROR '{NO_VALID_HOST}'", found=outcome(server), where=at)
    expected = "refused" if "isolate_aggregates" in declared else "admitted"
    if expected == "refused":
        summary = (f"an image without hypervisor metadata was admitted onto VMware host {host}: isolated aggregate "
                   "filtering is not in force although the target declares isolate_aggregates")
    else:
        summary = (f"an image without hypervisor metadata was refused by VMware host {host}, although the target "
                   "declares AggregateImagePropertiesIsolation alone (which admits it, nova bug 1677217): the "
                   "deployment isolates differently than declared")
    expect(observed == expected, summary,
           expected=f"{expected} (declared isolation: {', '.join(declared)})",
           found=f"{observed}: {outcome(server)}", where=at)
