"""BLK-7: a volume of the VMware type attaches to a VMware server as a VMDK: the server's VM in vCenter gains
the volume's virtual disk, of the disk type the volume type asks, and loses it on detach."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import VMWARE_HV_TYPE, flavor_for, image_for, running_on
from suites.block_storage.compute_hosts import usable_compute
from suites.block_storage.vmware_disks import (
    DISK_FLAGS,
    describe_disks,
    disk_flags,
    server_vm,
    volume_disks,
)
from suites.block_storage.volumes import (
    attach,
    attached_to,
    describe,
    designed_type,
    detach,
    new_volume,
)

pytestmark = [pytest.mark.block_storage]

VMDK_TYPE_SPEC = "vmware:vmdk_type"


@pytest.mark.control(
    "SP-BLK-007",
    title="A volume attaches to a VMware server as a VMDK of its type's disk type, and detaches",
    statement="Shared storage serves vSphere storage (a VMFS datastore) to ESXi instances, and Block Storage "
              "supports both hypervisors.",
)
@pytest.mark.workload
def test_volume_attaches_to_a_vmware_server_as_a_vmdk(cloud, run, volume_design, resources, waiter,
                                                      vcenters) -> None:
    design = designed_type(volume_design, "vmware")
    name = usable_compute(cloud, VMWARE_HV_TYPE)
    image = image_for(cloud, "vmdk", VMWARE_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, image)
    server = running_on(cloud, resources, waiter, host=name, image=image, flavor=flavor, hint="blk7-vmware")

    volume_type = cloud.block_storage.find_type(design.name, ignore_missing=False)
    disk_type = (volume_type.extra_specs or {}).get(VMDK_TYPE_SPEC, "thin")
    wanted = DISK_FLAGS.get(disk_type)
    volume = new_volume(cloud, resources, waiter, design, "blk7-data")
    attached = attached_to(cloud, server, attach(cloud, waiter, server, volume), host_name=None)
    at = f"{describe(attached.volume)}, server {server.id} on {name}"
    expect(attached.driver_volume_type == "vmdk", f"volume {volume.name} was handed to the VMware server as "
           f"{attached.driver_volume_type}, not as a VMDK", expected="connection_info driver_volume_type vmdk",
           found=f"driver_volume_type {attached.driver_volume_type}", where=at)

    vc_name, vm = server_vm(vcenters, server)
    at_vm = f"{at}, vCenter {vc_name}, VM {vm['obj']._moId} ({vm.get('name')})"
    disks = volume_disks(vm, volume.id)
    expect(len(disks) == 1, f"the VM of server {server.id} did not gain volume {volume.name}'s disk",
           expected=f"one VirtualDisk with backing uuid {volume.id}", found=describe_disks(vm), where=at_vm)
    expect(wanted is not None and disk_flags(disks[0]) == wanted,
           f"volume {volume.name}'s disk is not of the disk type its volume type asks",
           expected=f"{VMDK_TYPE_SPEC}={disk_type}: {wanted}", found=disk_flags(disks[0]),
           where=f"{at_vm}, disk {disks[0].backing.fileName}, volume type {design.name}")

    detach(cloud, waiter, server, attached.volume)
    _, vm = server_vm(vcenters, server)
    expect(not volume_disks(vm, volume.id), f"the VM of server {server.id} still has volume {volume.name}'s disk "
           "after detach", expected=f"no VirtualDisk of volume {volume.id}", found=describe_disks(vm), where=at_vm)
