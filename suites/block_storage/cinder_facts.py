"""What cinder 29 and nova 34 call things, as data the block storage checks compare with.

Taken from cinder/common/constants.py, cinder/volume/drivers/vmware/vmdk.py and nova/conf/cinder.py; kept
here so that checks reason about a remote cloud without importing cinder or nova.
"""

from __future__ import annotations

import configparser

# storage_protocol values of transports a libvirt/KVM host attaches through os-brick (compared lower-case).
KVM_PROTOCOLS = frozenset({
    "iscsi", "iser", "fc", "fibre_channel", "nfs", "ceph", "rbd", "nvme-of", "nvmeof", "nvme-roce", "nvme-fc",
    "nvme-tcp",
})
# What a VMware server attaches: a virtual disk that cinder's VMDK driver keeps in vCenter.
VMWARE_PROTOCOLS = frozenset({"vmdk"})
PROTOCOLS_FOR = {"kvm": KVM_PROTOCOLS, "vmware": VMWARE_PROTOCOLS}
# The values of the vmware:vmdk_type extra spec the VMDK driver accepts (unset means thin).
VMDK_TYPES = frozenset({"thin", "thick", "eagerZeroedThick"})
VMDK_DEFAULT_TYPE = "thin"
VMDK_DRIVER = "cinder.volume.drivers.vmware.vmdk.VMwareVcVmdkDriver"
VMWARE_DEFAULT_PORT = 443
# cinder [DEFAULT] storage_availability_zone default; nova [cinder] cross_az_attach default.
CINDER_DEFAULT_AZ = "nova"
NOVA_CROSS_AZ_ATTACH_DEFAULT = True


def protocol_fits(protocol: object, hypervisor: str) -> bool:
    """Whether a pool's storage_protocol is one the hypervisor family attaches."""
    return str(protocol).lower() in PROTOCOLS_FOR[hypervisor]


def enabled_backend_sections(conf: configparser.ConfigParser) -> list[str]:
    """The backend sections cinder-volume runs ([DEFAULT] enabled_backends, a comma separated list)."""
    raw = conf.get("DEFAULT", "enabled_backends", fallback="")
    return [name.strip() for name in raw.split(",") if name.strip()]


def multi_values(text: str, section: str, option: str) -> list[str]:
    """Every value of a multi-valued oslo.config option (one `option = value` line each), which configparser
    would collapse to the last one."""
    values, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep and current == section and key.strip() == option:
            values.extend(v.strip() for v in value.split(",") if v.strip())
    return values
