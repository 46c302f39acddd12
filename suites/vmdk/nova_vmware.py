"""What nova 34's VMware driver and glance 33 do with VMDK images, as data the vmdk checks compare with.

Taken from nova/virt/vmwareapi (vmops.py, images.py, imagecache.py, constants.py), nova/conf (vmware.py,
imagecache.py), nova/objects (image_meta.py, fields.py SCSIModel) and glance/common/config.py; kept here so that
checks reason about a remote cloud without importing either.
"""

from __future__ import annotations

import configparser

from stackproof.hostconfig import is_true

# nova.conf options the driver reads for its image cache and clones, with nova's defaults. Computes sharing a
# datastore share what these decide: where cached images live on it, and when one compute's aging deletes them.
CACHE_OPTIONS = {
    ("vmware", "use_linked_clone"): "True",
    ("vmware", "cache_prefix"): "",
    ("image_cache", "subdirectory_name"): "_base",
    ("image_cache", "remove_unused_base_images"): "True",
    ("image_cache", "remove_unused_original_minimum_age_seconds"): "86400",
    ("image_cache", "manager_interval"): "2400",
}
BOOLEAN_OPTIONS = frozenset({("vmware", "use_linked_clone"), ("image_cache", "remove_unused_base_images")})

# vmware_adaptertype -> the controller class nova's driver gives the root disk (vm_util.create_controller_spec).
# nova coerces the property through objects.fields.SCSIModel (case-insensitive, lsilogicsas -> lsisas1068,
# paravirtual -> vmpvscsi), then maps it back (images.VMwareImage.from_image); "ide" goes to the IDE bus.
ADAPTER_CONTROLLERS = {
    "lsiLogic": "VirtualLsiLogicController",
    "lsiLogicsas": "VirtualLsiLogicSASController",
    "busLogic": "VirtualBusLogicController",
    "paraVirtual": "ParaVirtualSCSIController",
    "ide": "VirtualIDEController",
}
DEFAULT_ADAPTER = "lsiLogic"
_NOVA_SCSI_MODEL = {"lsilogic": "lsiLogic", "lsilogicsas": "lsiLogicsas", "lsisas1068": "lsiLogicsas",
                    "buslogic": "busLogic", "paravirtual": "paraVirtual", "vmpvscsi": "paraVirtual", "ide": "ide"}


def adapter_known(value: str | None) -> str | None:
    """The adapter the driver makes of an image's vmware_adaptertype, or None when it knows no such adapter
    (nova then refuses the boot, or silently builds the default controller)."""
    if value is None:
        return DEFAULT_ADAPTER
    return _NOVA_SCSI_MODEL.get(value.lower())


def option(conf: configparser.ConfigParser | None, section: str, name: str) -> str:
    """A cache/clone option as nova reads it (its default when unset), normalised for comparison."""
    default = CACHE_OPTIONS[(section, name)]
    value = conf.get(section, name, fallback=default).strip() if conf is not None else default
    if (section, name) in BOOLEAN_OPTIONS:
        return str(is_true(value))
    return value


def cache_folder(conf: configparser.ConfigParser) -> str | None:
    """The image cache folder the driver uses on every datastore (vmops._get_base_folder); None when it depends
    on [DEFAULT] my_ip and the config leaves my_ip to nova (the host's own address)."""
    subdirectory = option(conf, "image_cache", "subdirectory_name")
    prefix = option(conf, "vmware", "cache_prefix")
    if prefix:
        return f"{prefix}{subdirectory}"
    if option(conf, "image_cache", "remove_unused_base_images") == "True":
        my_ip = conf.get("DEFAULT", "my_ip", fallback="").strip()
        return f"{my_ip}{subdirectory}" if my_ip else None
    return subdirectory


# glance 33 [image_format] defaults (glance/common/config.py).
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
GLANCE_CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
GLANCE_REQUIRE_FORMAT_MATCH = True
