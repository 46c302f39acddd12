"""cinder.conf: the same file on the controller (api, scheduler) and the storage host (volume), each with
its own my_ip."""

from __future__ import annotations

from stackproof_lab import topology
from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import (
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    auth,
    authtoken,
    db_url,
    lock,
    transport_url,
)
from stackproof_lab.layout import Layout
from stackproof_lab.vcenter import runtime as vcenter

CONF = "/etc/cinder/cinder.conf"
# Which query parameters cinder-api honours on list calls (?name=, ?status=, messages' ?resource_uuid=):
# a filter not listed there is dropped, so without the file every list filter is (each request logs an
# ERROR and returns everything). Its package ships it under <venv>/etc/cinder; the production path is here.
RESOURCE_FILTERS = "/etc/cinder/resource_filters.json"
# The KVM backend's volumes: files in a directory of the storage host that its NFS server exports on the
# storage network (nfs-ganesha, configs/ganesha.py); cinder's NFS driver keeps volumes the same way.
KVM_VOLUMES = f"/srv/cinder/{topology.CINDER_BACKEND}"
# The VMDK backend keeps to each cluster's own datastore (sp-vmfs-<n>). Its driver prefers the datastore
# mounted on the most hosts, which would be sp-vmfs-shared (nova's image cache of both VMware computes) and
# would change where every volume lives.
DATASTORE_REGEX = "^sp-vmfs-[0-9]+$"


def export() -> str:
    """The NFS export of the KVM backend, as connection info names it (<server>:<path>)."""
    return f"{topology.STORAGE_SERVER}:{KVM_VOLUMES}"


def resource_filters(layout: Layout, password: dict[str, str]) -> str:
    """cinder's own resource_filters.json, as its package ships it."""
    return (layout.venv / "etc" / "cinder" / "resource_filters.json").read_text()


def cinder(layout: Layout, password: dict[str, str], host: str) -> Sections:
    data = layout.data / "cinder"
    return {
        "DEFAULT": {
            "host": topology.CINDER_HOST,
            "transport_url": transport_url(layout, password),
            "auth_strategy": "keystone",
            "state_path": str(data),
            "api_paste_config": str(layout.venv / "etc" / "cinder" / "api-paste.ini"),
            "resource_query_filters_file": RESOURCE_FILTERS,
            "my_ip": topology.TOPOLOGY.get(host).address(layout),
            "enabled_backends": f"{topology.CINDER_BACKEND},{topology.VMDK_BACKEND}",
            "default_volume_type": "kvm-default",
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
            "periodic_fuzzy_delay": 0,  # see nova: first heartbeats and capability reports without delay
            "image_conversion_dir": str(data / "conversion"),
            "osapi_volume_workers": 1,
            # Default 60: cinder-scheduler waits (without heartbeats) until every backend whose record
            # is up has sent its capabilities; the VMDK backend never does while the vCenter is away.
            "scheduler_driver_init_wait_time": 10,
            # Volumes of a type without RESKEY:availability_zones (and the services of backends without a
            # zone of their own) are in the KVM zone: the general-purpose side.
            "storage_availability_zone": topology.AVAILABILITY_ZONES["kvm"],
            "default_availability_zone": topology.AVAILABILITY_ZONES["kvm"],
        },
        "database": {"connection": db_url(layout, password, "cinder")},
        "keystone_authtoken": authtoken(layout, password, "cinder"),
        "nova": {**auth(layout, password, "cinder"), "interface": "public"},
        "service_user": auth(layout, password, "cinder", send_service_user_token=True),
        "oslo_concurrency": lock(str(data / "lock")),
        "oslo_messaging_notifications": {"driver": "noop"},
        # Cinder inspects images in a privsep daemon, by default started through sudo and rootwrap. The
        # lab runs as root without either: start privsep-helper from the venv directly.
        **{
            section: {"helper_command": f"{layout.venv_bin / 'privsep-helper'} --config-file {CONF}"}
            for section in ("cinder_sys_admin", "privsep_osbrick")
        },
        topology.CINDER_BACKEND: {
            "volume_driver": "stackproof_lab_plugins.volume.LabNfsVolumeDriver",
            "volume_backend_name": topology.CINDER_BACKEND,
            "backend_availability_zone": topology.AVAILABILITY_ZONES["kvm"],
            "lab_volumes_dir": KVM_VOLUMES,
            "lab_export": export(),
        },
        # Cinder's own VMDK driver: a volume is a virtual disk of a powered-off "backing" VM, created
        # (lazily, at first attach) on a datastore the instance's host sees; nova's VMware driver
        # attaches that disk to the instance's VM (connection info driver_volume_type vmdk).
        topology.VMDK_BACKEND: {
            "volume_driver": "cinder.volume.drivers.vmware.vmdk.VMwareVcVmdkDriver",
            "volume_backend_name": topology.VMDK_BACKEND,
            "backend_availability_zone": topology.AVAILABILITY_ZONES["vmware"],
            "vmware_host_ip": layout.controller,
            "vmware_host_port": layout.port("vcenter"),
            "vmware_host_username": vcenter.USER,
            "vmware_host_password": password["vcenter"],
            "vmware_ca_file": str(vcenter.ca_file(layout.state)),
            "vmware_insecure": False,
            # The clusters nova manages (a multi-valued option: one line per cluster).
            "vmware_cluster_name": list(topology.VMWARE_COMPUTES.values()),
            "vmware_datastore_regex": DATASTORE_REGEX,
        },
    }
