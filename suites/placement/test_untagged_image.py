"""AGG-9: an image without hypervisor metadata, asked onto a VMware host, meets the isolation the target
declares: admitted under AggregateImagePropertiesIsolation alone (nova bug 1677217), refused under
isolate_aggregates. The check uploads its own untagged image: the cloud's images are tagged (AGG-4)."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import (
    NO_VALID_HOST,
    VMWARE_HV_TYPE,
    boot,
    fault_message,
    flavor_for,
    hypervisor_tag,
    outcome,
    settled,
    where,
)
from stackproof.vmdk import monolithic_sparse
from suites.placement.servers import designed_aggregate, require_host_field, usable_host

pytestmark = [pytest.mark.placement]

UNTAGGED_IMAGE_SIZE = 64 * 1024 * 1024  # below every flavor's disk, ~64 KiB to upload (no grain allocated)


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
    require_host_field(cloud)
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
