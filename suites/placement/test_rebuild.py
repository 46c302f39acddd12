"""AGG-10: a VMware server cannot be rebuilt into a qcow2 image; it keeps its image and its host.

How nova 34 refuses it (compute/api.py rebuild, conductor/manager.py rebuild_instance): the API accepts the
request (202) and sets task_state rebuilding; because the image changes, the conductor asks the scheduler
for the server's own host with only the filters marked RUN_ON_REBUILD (ImagePropertiesFilter,
AggregateImagePropertiesIsolation; placement's image-type prefilter does not run on rebuild). NoValidHost
there rolls image_ref back and puts the server in ERROR with that fault. So the refusal shows as ERROR
'No valid host' with the old image, not as a 400.
"""

from __future__ import annotations

import pytest
from openstack import exceptions as os_exc

from stackproof.findings import expect
from stackproof.servers import (
    KVM_HV_TYPE,
    NO_VALID_HOST,
    VMWARE_HV_TYPE,
    boot,
    fault_message,
    flavor_for,
    has_ended,
    image_for,
    outcome,
    request_id,
    settled,
    where,
)
from suites.placement.servers import designed_aggregate

pytestmark = [pytest.mark.placement]


def _image_id(server) -> str | None:
    image = server.image
    return image.get("id") if isinstance(image, dict) else getattr(image, "id", None)


@pytest.mark.control(
    "SP-AGG-010",
    title="Rebuilding a VMware server with a qcow2 image is refused",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one stays on the matching "
              "aggregate: a rebuild with another hypervisor's image is refused and leaves image and host as "
              "they were.",
)
@pytest.mark.workload
def test_rebuild_with_a_qcow2_image_is_refused(cloud, run, topology, expected_aggregates, resources,
                                               waiter) -> None:
    aggregate = designed_aggregate(topology, expected_aggregates, VMWARE_HV_TYPE)
    vmdk = image_for(cloud, "vmdk", VMWARE_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, vmdk)
    server = settled(cloud, waiter, boot(resources, image=vmdk, flavor=flavor, hint="agg10-vmware"),
                     f"a server from VMDK image {vmdk.name} to become ACTIVE or ERROR")
    expect(server.status == "ACTIVE" and server.compute_host in (aggregate.hosts or []),
           f"no VMware server to rebuild: the VMDK image {vmdk.name} did not boot onto aggregate {aggregate.name}",
           expected=f"ACTIVE on a host of {sorted(aggregate.hosts or [])}", found=outcome(server),
           where=where(cloud, server, vmdk, flavor))
    before = (server.compute_host, server.hypervisor_hostname, _image_id(server))

    qcow2 = image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix)
    try:
        cloud.compute.rebuild_server(server, image=qcow2.id)
    except os_exc.HttpException as exc:
        # nova 34 accepts a cross-hypervisor rebuild and refuses it in the scheduler; a 4xx here is another fault.
        expect(False, f"nova did not take the rebuild of server {server.id} with qcow2 image {qcow2.name}",
               expected=f"202 Accepted, then ERROR '{NO_VALID_HOST}' from the scheduler",
               found=f"{exc.status_code} {exc.details or exc.message}",
               where=f"server {server.id} on {before[0]}, image {qcow2.name} ({qcow2.id}), "
                     f"request {exc.request_id or 'unknown'}")
    after = waiter.until(lambda: cloud.compute.get_server(server.id), limit="server_active",
                         until=has_ended(),
                         state=lambda s: f"{s.status}/{s.task_state}",
                         description=f"server {server.id}'s rebuild with qcow2 image {qcow2.name} to end")
    at = (f"server {server.id} ({server.name}) on {before[0]}, rebuild to {qcow2.name} ({qcow2.id}), "
          f"rebuild request {request_id(cloud, server, 'rebuild')}")
    expect(after.status == "ERROR" and NO_VALID_HOST in fault_message(after),
           f"rebuilding VMware server {server.id} with qcow2 image {qcow2.name} was not refused",
           expected=f"ERROR with fault '{NO_VALID_HOST}' (nova 34 refuses in the scheduler)",
           found=outcome(after), where=at)
    now = (after.compute_host, after.hypervisor_hostname, _image_id(after))
    expect(now == before, f"the refused rebuild still changed server {server.id}",
           expected=f"host {before[0]}, hypervisor {before[1]}, image {before[2]}",
           found=f"host {now[0]}, hypervisor {now[1]}, image {now[2]}", where=at)
