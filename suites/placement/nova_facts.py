"""What nova 34 does with image properties and aggregate metadata, as data the placement checks compare with.

Taken from nova/objects/image_meta.py and nova/objects/fields.py (HVType); kept here so that checks reason
about a remote cloud without importing nova.
"""

# Glance property name -> the nova image-meta field it becomes. AggregateImagePropertiesIsolation looks up
# aggregate metadata keys as *field* names: a key spelled the Glance way is skipped with only a log warning.
LEGACY_PROPERTY_MAP = {
    "architecture": "hw_architecture",
    "owner_id": "img_owner_id",
    "vmware_disktype": "hw_disk_type",
    "vmware_image_version": "img_version",
    "vmware_ostype": "os_distro",
    "auto_disk_config": "hw_auto_disk_config",
    "ipxe_boot": "hw_ipxe_boot",
    "xenapi_device_id": "hw_device_id",
    "xenapi_image_compression_level": "img_compression_level",
    "vmware_linked_clone": "img_linked_clone",
    "xenapi_use_agent": "img_use_agent",
    "cache_in_nova": "img_cache_in_nova",
    "vm_mode": "hw_vm_mode",
    "bittorrent": "img_bittorrent",
    "mappings": "img_mappings",
    "block_device_mapping": "img_block_device_mapping",
    "bdm_v2": "img_bdm_v2",
    "root_device_name": "img_root_device_name",
    "hypervisor_version_requires": "img_hv_requested_version",
    "hypervisor_type": "img_hv_type",
}

# nova.objects.fields.HVType.ALL: any other hypervisor_type makes nova raise ValueError at boot.
HV_TYPES = frozenset({
    "baremetal", "bhyve", "docker", "fake", "hyperv", "ironic", "kqemu", "kvm", "lxc", "lxd", "openvz",
    "parallels", "phyp", "qemu", "test", "uml", "vbox", "vz", "vmware", "xen", "zvm", "prsm",
})

# [filter_scheduler] enabled_filters when nova.conf does not set it (nova 34).
DEFAULT_ENABLED_FILTERS = (
    "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter",
)

VMWARE_DISK_TYPES = frozenset({"sparse", "preallocated", "thin", "streamOptimized"})
VMWARE_ADAPTER_TYPES = frozenset({"lsiLogic", "lsiLogicsas", "busLogic", "paraVirtual", "ide"})
VMDK_CONTAINER_FORMATS = frozenset({"bare", "ova"})

IMAGE_TYPE_TRAITS = {
    "QEMU": ({"COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW"}, {"COMPUTE_IMAGE_TYPE_VMDK"}),
    "VMware vCenter Server": ({"COMPUTE_IMAGE_TYPE_VMDK"}, {"COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW"}),
}
