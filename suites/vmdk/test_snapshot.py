"""VMDK-7: a snapshot of a VMware server is a streamOptimized VMDK image, and it boots again."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.image_data import first_bytes, image_properties
from stackproof.image_transfer import timed_boot, upload
from stackproof.servers import flavor_for, outcome, where
from stackproof.vmdk import HEAD_BYTES, read_head

pytestmark = [pytest.mark.vmdk]

IMAGE_SIZE = 16 * 2**20  # small: what is checked does not depend on the size


@pytest.mark.control(
    "SP-VMDK-007",
    title="A VMware server's snapshot is a streamOptimized VMDK image that boots again",
    statement="ESXi images are VMDK in Glance: a snapshot of a VMware instance comes back as a vmdk image whose "
              "bytes are streamOptimized (the compressed format that moves only the disk's data) and say so "
              "(vmware_disktype), and a server boots from it.",
)
@pytest.mark.workload
def test_snapshot_is_stream_optimized_and_boots(cloud, waiter, resources, build_image, record_property) -> None:
    built = build_image("sparse", IMAGE_SIZE)
    source = cloud.image.get_image(upload(resources, built, hint="vmdk7-source", timeout=waiter.timeouts.image_active,
                                          properties={"hypervisor_type": "vmware", "vmware_disktype": "sparse",
                                                      "vmware_adaptertype": "lsiLogic"}).value.id)
    flavor = flavor_for(cloud, source)
    server = timed_boot(cloud, resources, waiter, image=source, flavor=flavor, hint="vmdk7-source").value
    expect(server.status == "ACTIVE", f"a server from {source.name} did not boot", expected="ACTIVE",
           found=outcome(server), where=where(cloud, server, source, flavor))

    name = resources.name("vmdk7-snapshot")
    entry = resources.intend("image", name)
    snapshot = cloud.compute.create_server_image(server, name=name)
    resources.created(entry, snapshot.id)
    snapshot = waiter.until(lambda: cloud.image.get_image(snapshot.id), limit="image_active",
                            until=lambda i: i.status in ("active", "killed", "deleted"), state=lambda i: i.status,
                            description=f"snapshot {name} of server {server.id} to become active")
    at = f"snapshot {name} ({snapshot.id}) of server {server.id}"
    expect(snapshot.status == "active", f"the snapshot of server {server.id} did not become an active image",
           expected="active", found=snapshot.status, where=at)
    head = read_head(first_bytes(cloud, snapshot.id, HEAD_BYTES))
    declared = image_properties(snapshot).get("vmware_disktype")
    record_property("snapshot", f"{snapshot.disk_format}, vmware_disktype={declared}, {head.describe()}, "
                                f"{snapshot.size} bytes")
    record_property("measure.snapshot_bytes", snapshot.size)
    expect(snapshot.disk_format == "vmdk" and declared == "streamOptimized" and head.subformat == "streamOptimized"
           and head.compressed, f"the snapshot of server {server.id} is not a streamOptimized VMDK",
           expected="disk_format vmdk, vmware_disktype streamOptimized, bytes: a compressed streamOptimized VMDK",
           found=f"disk_format {snapshot.disk_format}, vmware_disktype {declared}, bytes: {head.describe()}",
           where=at)
    again = timed_boot(cloud, resources, waiter, image=snapshot, flavor=flavor, hint="vmdk7-from-snapshot").value
    expect(again.status == "ACTIVE", f"a server from snapshot {name} did not boot", expected="ACTIVE",
           found=outcome(again), where=where(cloud, again, snapshot, flavor))
