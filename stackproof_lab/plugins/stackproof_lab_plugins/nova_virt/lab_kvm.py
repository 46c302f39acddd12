"""A fake virt driver that looks to the scheduler like a libvirt/QEMU host.

nova's own ``fake.FakeDriver`` reports hypervisor type ``fake``: every image carrying
``hypervisor_type=qemu`` then gets "No valid host". This subclass reports what a libvirt host reports
(type QEMU, the qemu HVType in supported_instances, the image types libvirt can boot and not VMDK), so
nova's real filters and placement prefilters make the placement decisions. Guests are records in
memory, but a guest booted from an image has a real root disk, made and snapshotted as libvirt's qcow2
backend does (instance_disk.py): a server snapshot uploads a qcow2 image of that disk to glance.

Loaded by nova as ``compute_driver = lab_kvm.LabKVMDriver`` (see compute_launcher.py).
"""

import os

from nova import block_device, exception
from nova import conf as nova_conf
from nova.compute import task_states
from nova.image import glance
from nova.objects import fields as obj_fields
from nova.virt import driver, fake

from stackproof_lab_plugins import instance_disk, nfs_connector

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
        self._image_api = glance.API()
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
        self._connect(connection_info)
        return super().attach_volume(
            context,
            connection_info,
            instance,
            mountpoint,
            disk_bus=disk_bus,
            device_type=device_type,
            encryption=encryption,
        )

    def detach_volume(self, context, connection_info, instance, mountpoint, encryption=None):
        super().detach_volume(context, connection_info, instance, mountpoint, encryption=encryption)
        self._disconnect(connection_info)

    def spawn(self, context, instance, image_meta, injected_files, admin_password, allocations,
              network_info=None, block_device_info=None, power_on=True, accel_info=None):
        # As libvirt: the guest's volumes (a boot volume included) are connected before it starts.
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            self._connect(bdm["connection_info"])
        if not block_device.get_root_bdm(driver.block_device_info_get_mapping(block_device_info)):
            self._create_disk(context, instance)
        return super().spawn(context, instance, image_meta, injected_files, admin_password, allocations,
                             network_info=network_info, block_device_info=block_device_info, power_on=power_on,
                             accel_info=accel_info)

    def destroy(self, context, instance, network_info, block_device_info=None, destroy_disks=True,
                destroy_secrets=True):
        super().destroy(context, instance, network_info, block_device_info=block_device_info,
                        destroy_disks=destroy_disks, destroy_secrets=destroy_secrets)
        if destroy_disks:
            instance_disk.remove(CONF.instances_path, instance.uuid)
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            self._disconnect(bdm["connection_info"])

    def snapshot(self, context, instance, image_id, update_task_state):
        """As libvirt's cold snapshot: the root disk flattened into one qcow2 file, uploaded as the data of
        the image nova-api created (which then goes active). A volume-backed server's snapshot never gets
        here: nova-api snapshots its volumes instead."""
        if instance.uuid not in self.instances:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        disk = instance_disk.disk_path(CONF.instances_path, instance.uuid)
        if not os.path.exists(disk):
            # The guest came here by a migration or an evacuation, which move no disk in this driver.
            disk = self._create_disk(context, instance)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        flat = instance_disk.flatten(disk, os.path.join(CONF.instances_path, "snapshots"))
        try:
            update_task_state(task_state=task_states.IMAGE_UPLOADING,
                              expected_state=task_states.IMAGE_PENDING_UPLOAD)
            with open(flat, "rb") as data:
                self._image_api.update(context, image_id, self._snapshot_metadata(instance), data)
        finally:
            os.unlink(flat)

    @staticmethod
    def _snapshot_metadata(instance):
        # What libvirt's _create_snapshot_metadata sends (the name and kernel/ramdisk ids aside).
        image_meta = instance.image_meta
        properties = {"image_location": "snapshot", "image_state": "available", "owner_id": instance.project_id}
        if instance.os_type:
            properties["os_type"] = instance.os_type
        container = image_meta.container_format if image_meta.obj_attr_is_set("container_format") else "bare"
        return {"disk_format": "qcow2", "container_format": container, "properties": properties}

    def _create_disk(self, context, instance):
        """The guest's root disk, on its image (downloaded once per host)."""
        image_id = instance.image_ref
        image_meta = instance.image_meta
        base = instance_disk.cached_base(
            CONF.instances_path, image_id,
            lambda dest: self._image_api.download(context, image_id, dest_path=dest))
        disk_format = image_meta.disk_format if image_meta.obj_attr_is_set("disk_format") else None
        return instance_disk.create(CONF.instances_path, instance.uuid, base, instance_disk.qemu_format(disk_format),
                                    instance.flavor.root_gb)

    @staticmethod
    def _connect(connection_info):
        """An NFS volume is connected where libvirt's NFS volume driver puts it, over the data network
        (nfs_connector.py); its path goes into the connection info as device_path, as os-brick's does."""
        if connection_info.get("driver_volume_type") != "nfs":
            return
        data = connection_info["data"]
        try:
            data["device_path"] = nfs_connector.connect(
                data["export"], data["name"], base=CONF.libvirt.nfs_mount_point_base, state_dir=CONF.state_path,
                mount_options=CONF.libvirt.nfs_mount_options)
        except nfs_connector.ConnectError as exc:
            raise exception.VolumeAttachFailed(volume_id=data["name"], reason=str(exc)) from None

    @staticmethod
    def _disconnect(connection_info):
        if connection_info.get("driver_volume_type") != "nfs":
            return
        data = connection_info["data"]
        nfs_connector.disconnect(data["export"], data["name"], base=CONF.libvirt.nfs_mount_point_base,
                                 state_dir=CONF.state_path)

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
        # The fake driver answers a made-up address; a lab host is its own my_ip (its management address).
        return CONF.my_ip
