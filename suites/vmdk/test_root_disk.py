"""VMDK-9: a root disk is extended to the flavor's root_gb when the image is smaller."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.image_transfer import timed_boot, upload
from stackproof.servers import GIB, flavor_for, outcome, where
from suites.vmdk.vsphere_view import compute_of, disk_file, root_disk, vcenter_of

pytestmark = [pytest.mark.vmdk]

IMAGE_SIZE = 16 * 2**20  # below every flavor's root disk


@pytest.mark.control(
    "SP-VMDK-009",
    title="Root disks are extended to the flavor's root_gb",
    statement="An instance from a VMDK image gets the disk its flavor promises: a flavor with root_gb larger "
              "than the image extends the root disk to root_gb, in vCenter and on the datastore.",
)
@pytest.mark.workload
def test_root_disk_is_extended_to_the_flavor(cloud, waiter, resources, vcenters, vmware_computes, build_image,
                                             record_property) -> None:
    built = build_image("sparse", IMAGE_SIZE)
    image = cloud.image.get_image(upload(resources, built, hint="vmdk9", timeout=waiter.timeouts.image_active,
                                         properties={"hypervisor_type": "vmware", "vmware_disktype": "sparse",
                                                     "vmware_adaptertype": "lsiLogic"}).value.id)
    flavor = flavor_for(cloud, image)
    expect(flavor.disk * GIB > built.virtual_size, f"flavor {flavor.name} is no larger than the image",
           expected=f"root_gb * 1 GiB > {built.virtual_size}", found=f"root_gb {flavor.disk}",
           where=f"flavor {flavor.id}")
    server = timed_boot(cloud, resources, waiter, image=image, flavor=flavor, hint="vmdk9").value
    expect(server.status == "ACTIVE", f"a server from {image.name} did not boot", expected="ACTIVE",
           found=outcome(server), where=where(cloud, server, image, flavor))
    compute = compute_of(vmware_computes, server)
    vc_name, si = vcenter_of(vcenters, compute)
    disk = root_disk(si, server.id)
    wanted = flavor.disk * GIB
    expect(disk is not None, f"vCenter {vc_name} shows no root disk for server {server.id}",
           expected="a VM with a virtual disk", found="none", where=where(cloud, server, image, flavor))
    # A linked clone's own file is a delta: the extended disk is the parent it reads through.
    on_datastore = disk_file(si, disk.parent or disk.file)
    record_property("root_disk", f"{disk.describe()}; datastore: "
                                 f"{'missing' if on_datastore is None else f'capacity {on_datastore.capacity}'}")
    expect(disk.capacity == wanted and on_datastore is not None and on_datastore.capacity == wanted,
           f"the root disk of server {server.id} is not the flavor's {flavor.disk} GB",
           expected=f"{wanted} bytes in vCenter and on the datastore (image {built.virtual_size} bytes)",
           found=f"vCenter {disk.capacity} bytes; datastore "
                 f"{'no such disk' if on_datastore is None else f'{on_datastore.capacity} bytes'} "
                 f"({disk.parent or disk.file})", where=where(cloud, server, image, flavor))
