"""BLK-8: a volume of the VMware type asked onto a KVM server fails cleanly: nova-api refuses it at once where the
two families live in availability zones of their own ([cinder] cross_az_attach=False), or else libvirt finds no
VMDK transport and nova rolls the attachment back; either way the volume is available again and the server
runs on unharmed."""

from __future__ import annotations

import pytest
from openstack import exceptions as os_exc

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, flavor_for, image_for, request_id, running_on
from suites.block_storage.compute_hosts import usable_compute
from suites.block_storage.volumes import (
    attach,
    attach_events,
    attachments_of,
    cinder_messages,
    describe,
    designed_type,
    new_volume,
)

pytestmark = [pytest.mark.block_storage]


@pytest.mark.control(
    "SP-BLK-008",
    title="A VMDK volume asked onto a KVM server fails cleanly and stays available",
    statement="Block Storage supports both hypervisors, each through its own backend: a VMware volume cannot "
              "reach a KVM instance, and trying leaves both as they were.",
)
@pytest.mark.workload
def test_vmdk_volume_on_a_kvm_server_fails_cleanly(cloud, run, volume_design, resources, waiter,
                                                   record_property) -> None:
    design = designed_type(volume_design, "vmware")
    name = usable_compute(cloud, KVM_HV_TYPE)
    image = image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, image)
    server = running_on(cloud, resources, waiter, host=name, image=image, flavor=flavor, hint="blk8-kvm")

    volume = new_volume(cloud, resources, waiter, design, "blk8-vmdk")
    try:
        after, refused = attach(cloud, waiter, server, volume), None
    except os_exc.BadRequestException as exc:  # e.g. "not in the same availability_zone"
        after, refused = cloud.block_storage.get_volume(volume.id), f"{exc.details} (request {exc.request_id})"
        record_property("refused_by", f"nova-api: {refused}")
    at = f"{describe(after)}, server {server.id} on KVM host {name}"
    if after.status == "in-use":
        records = attachments_of(after)
        transport = [cloud.block_storage.get_attachment(a["attachment_id"]).connection_info.get("driver_volume_type")
                     for a in records]
        expect(False, f"a {design.name} volume attached to KVM server {server.id}",
               expected="the attach refused (libvirt has no VMDK transport), the volume available again",
               found=f"in-use over {transport}",
               where=f"{at}, attach request {request_id(cloud, server, 'attach_volume')}")
    events = attach_events(cloud, server)
    expect(after.status == "available" and not attachments_of(after),
           f"the refused attach of volume {volume.name} did not leave it available",
           expected="status available, no attachment",
           found=f"status {after.status}, attachments {attachments_of(after)}; cinder says: "
                 f"{cinder_messages(cloud, volume.id)}; nova: {events}", where=at)
    if refused is None:
        expect(any("Error" in e for e in events), f"nova recorded no failed attach of volume {volume.name}",
               expected="an attach_volume action with an event in Error, or the attach refused by nova-api",
               found=events or "no attach_volume action", where=at)
    now = cloud.compute.get_server(server.id)
    attached_ids = [v["id"] for v in now.attached_volumes or []]
    expect(now.status == "ACTIVE" and volume.id not in attached_ids,
           f"server {server.id} did not come out of the refused attach unharmed",
           expected=f"ACTIVE, without volume {volume.id}", found=f"{now.status}, volumes {attached_ids}", where=at)
