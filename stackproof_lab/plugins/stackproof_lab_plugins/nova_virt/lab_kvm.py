"""A fake virt driver that looks to the scheduler like a libvirt/QEMU host.

nova's own ``fake.FakeDriver`` reports hypervisor type ``fake``: every image carrying
``hypervisor_type=qemu`` then gets "No valid host". This subclass reports what a libvirt host reports
(type QEMU, the qemu HVType in supported_instances, the image types libvirt can boot and not VMDK), so
nova's real filters and placement prefilters make the placement decisions. Guests are still only
records in memory.

Loaded by nova as ``compute_driver = lab_kvm.LabKVMDriver`` (see compute_launcher.py).
"""

import os

from nova import conf as nova_conf
from nova import exception, utils
from nova.objects import fields as obj_fields
from nova.virt import fake

CONF = nova_conf.CONF

# What nova's libvirt driver advertises for a non-parallels host (libvirt/driver.py capabilities):
# everything qemu-img can read except vmdk and ploop.
_LIBVIRT_IMAGE_TYPES = {
    "supports_image_type_aki": True,
    "supports_image_type_ami": True,
    "supports_image_type_ari": True,
    "supports_image_type_iso": True,
    "supports_image_type_qcow2": True,
    "supports_image_type_raw": True,
    "supports_image_type_vdi": True,
    "supports_image_type_vhd": True,
    "supports_image_type_vhdx": True,
    "supports_image_type_vmdk": False,
    "supports_image_type_ploop": False,
}


# Volume protocols nova's libvirt driver has a volume driver for (libvirt/driver.py
# libvirt_volume_drivers). Anything else, such as cinder's VMDK connection info, it refuses.
_LIBVIRT_VOLUME_TYPES = frozenset(
    {
        "iscsi",
        "iser",
        "local",
        "fake",
        "rbd",
        "nfs",
        "smbfs",
        "fibre_channel",
        "gpfs",
        "quobyte",
        "scaleio",
        "vzstorage",
        "storpool",
        "nvmeof",
        "lightos",
    }
)


class LabKVMDriver(fake.FakeDriverWithoutFakeNodes):
    """A single-node compute that schedules like a QEMU hypervisor.

    FakeDriverWithoutFakeNodes (not FakeDriver) keeps the node UUID in ``state_path/compute_id``, so a
    restarted compute finds its own node again instead of refusing to start.
    """

    capabilities = {**fake.FakeDriver.capabilities, **_LIBVIRT_IMAGE_TYPES}

    # A modest host, so that capacity figures look like a real hypervisor's, yet room for parallel tests.
    vcpus = 16
    memory_mb = 32768
    local_gb = 400

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self.host_status_base.update(
            {
                "hypervisor_type": obj_fields.HVType.QEMU.upper(),  # libvirt reports "QEMU"
                "hypervisor_version": 8002000,  # QEMU 8.2.0, as libvirt encodes it
                "supported_instances": [
                    (obj_fields.Architecture.X86_64, obj_fields.HVType.QEMU, obj_fields.VMMode.HVM),
                    (obj_fields.Architecture.I686, obj_fields.HVType.QEMU, obj_fields.VMMode.HVM),
                ],
            }
        )

    def attach_volume(
        self, context, connection_info, instance, mountpoint, disk_bus=None, device_type=None, encryption=None
    ):
        # As libvirt: a VMDK volume on a KVM host fails cleanly (nova rolls the attachment back).
        driver_type = connection_info.get("driver_volume_type")
        if driver_type not in _LIBVIRT_VOLUME_TYPES:
            raise exception.VolumeDriverNotFound(driver_type=driver_type)
        if driver_type == "nfs":
            connection_info["data"]["device_path"] = self._mount_nfs(connection_info["data"])
        return super().attach_volume(
            context,
            connection_info,
            instance,
            mountpoint,
            disk_bus=disk_bus,
            device_type=device_type,
            encryption=encryption,
        )

    @staticmethod
    def _mount_nfs(data):
        """As libvirt's NFS volume driver (nova/virt/libvirt/volume/fs.py): the share is mounted at
        [libvirt] nfs_mount_point_base/<md5 of the export> and the volume is a file on it, so that whoever
        looks on the host finds it where a libvirt host has it. The lab's shares are directories on this
        machine: a symlink stands in for the mount."""
        directory = data["export"].partition(":")[2]
        mount = os.path.join(CONF.libvirt.nfs_mount_point_base, utils.get_hash_str(data["export"]))
        if not os.path.lexists(mount):
            os.makedirs(os.path.dirname(mount), exist_ok=True)
            os.symlink(directory, mount)
        return os.path.join(mount, data["name"])

    def get_volume_connector(self, instance):
        # What os-brick reports on a libvirt host; cinder records "host" as the attachment's host_name.
        return {
            "ip": CONF.my_block_storage_ip,
            "host": CONF.host,
            "initiator": f"iqn.2010-10.org.openstack:{CONF.host}",
            "platform": "x86_64",
            "os_type": "linux",
            "multipath": False,
        }

    def get_host_ip_addr(self):
        # The fake driver answers a made-up address; a lab host is its own my_ip (loopback).
        return CONF.my_ip
