"""BLK-9: a server boots from a volume on each hypervisor: a volume of the family's type, made from the family's
image, becomes the server's root disk (on VMware: the VM's disk is the volume's VMDK)."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, VMWARE_HV_TYPE, flavor_for, image_for, running_on, where
from suites.block_storage.compute_hosts import usable_compute
from suites.block_storage.vmware_disks import describe_disks, server_vm, volume_disks
from suites.block_storage.volumes import attached_to, describe, designed_type, new_volume

pytestmark = [pytest.mark.block_storage]

FAMILIES = {
    # family: (hypervisor type, image disk format)
    "kvm": (KVM_HV_TYPE, "qcow2"),
    "vmware": (VMWARE_HV_TYPE, "vmdk"),
}


@pytest.mark.control(
    "SP-BLK-009",
    title="A server boots from a volume on each hypervisor",
    statement="Block Storage supports both hypervisors: KVM and ESXi instances boot from volumes of their own "
              "backend.",
)
@pytest.mark.workload
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_server_boots_from_a_volume(family, cloud, run, volume_design, resources, waiter, vcenters) -> None:
    hypervisor_type, disk_format = FAMILIES[family]
    design = designed_type(volume_design, family)
    name = usable_compute(cloud, hypervisor_type)
    image = image_for(cloud, disk_format, hypervisor_type, run.prefix)
    flavor = flavor_for(cloud, image)
    volume = new_volume(cloud, resources, waiter, design, f"blk9-{family}-root", image=image)
    expect(str(volume.is_bootable).lower() == "true", f"volume {volume.name} made from image {image.name} is not "
           "bootable", expected="bootable true", found=f"bootable {volume.is_bootable}", where=describe(volume))

    mapping = [{"boot_index": 0, "uuid": volume.id, "source_type": "volume", "destination_type": "volume",
                "delete_on_termination": False}]
    server = running_on(cloud, resources, waiter, host=name, flavor=flavor, hint=f"blk9-{family}",
                        block_device_mapping=mapping)
    at = f"{where(cloud, server, None, flavor)}, root {describe(volume)}"
    attached_to(cloud, server, cloud.block_storage.get_volume(volume.id),
                host_name=name if family == "kvm" else None)
    if family == "vmware":
        vc_name, vm = server_vm(vcenters, server)
        expect(vm.get("runtime.powerState") == "poweredOn" and len(volume_disks(vm, volume.id)) == 1,
               f"the VM of server {server.id} does not run on volume {volume.name}'s disk",
               expected=f"poweredOn, with the VirtualDisk of volume {volume.id}",
               found=f"{vm.get('runtime.powerState')}, disks {describe_disks(vm)}",
               where=f"{at}, vCenter {vc_name}, VM {vm['obj']._moId}")
