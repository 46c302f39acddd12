"""nova.conf: the controller's (api, conductor, scheduler) and each compute host's /etc/nova/nova.conf."""

from __future__ import annotations

from stackproof_lab import topology
from stackproof_lab.configs.ini import Sections, merge
from stackproof_lab.configs.openstack import (
    REGION,
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    auth,
    authtoken,
    db_url,
    lock,
    transport_url,
)
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import design as nsx_design
from stackproof_lab.vcenter import runtime as vcenter

# (No AvailabilityZoneFilter: nova 34 removed it in favour of the placement pre-filter.)
SCHEDULER_FILTERS = [
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    "AggregateImagePropertiesIsolation",
    "AggregateInstanceExtraSpecsFilter",
]
VMWARE_DRIVER = "vmwareapi.VMwareVCDriver"
KVM_DRIVER = "lab_kvm.LabKVMDriver"  # nova.virt.lab_kvm (plugins/stackproof_lab_plugins/compute_launcher.py)
# nova's default is 60 s. A VMware compute sees vCenter changes (a host in maintenance shrinks the
# cluster's capacity; a lost vCenter disables its service with 'set by vmwareapi host_state') only in
# this periodic task: the lab shows them within seconds.
UPDATE_RESOURCES_INTERVAL = 10
# The lab vCenter's datastores are sp-vmfs-1 (cluster 1), sp-vmfs-2 (cluster 2) and sp-vmfs-shared (mounted on
# every host of both clusters, so both VMware computes can cache images there): see vcenter/README.md.
DATASTORE_REGEX = "^sp-vmfs-"
# nova keeps an unused cached image a day (86400 s) and looks every 40 minutes. Each vmdk run caches a few
# hundred megabytes of images it then deletes from Glance; the lab lets them go after 10 minutes, checked
# every 5, so that runs do not fill the machine's disk. A second boot within minutes (SP-VMDK-004) still finds
# the image cached.
IMAGE_CACHE = {"manager_interval": 300, "remove_unused_original_minimum_age_seconds": 600}
# Where a compute keeps its state, as distributions set it; nova's NFS shares mount under <state>/mnt.
STATE_PATH = "/var/lib/nova"
# A compute's NFS mounts are soft, as the lab's volume connector honours them: an unreachable storage
# fails I/O after timeo x retrans (deciseconds) instead of hanging it.
NFS_MOUNT_OPTIONS = "soft,timeo=100,retrans=2"


def _common(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "DEFAULT": {
            "transport_url": transport_url(layout, password),
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
            # Default: a random start delay of up to 60 s for periodic tasks, including the scheduler's
            # host discovery that new computes wait for. The lab wants them at once.
            "periodic_fuzzy_delay": 0,
        },
        "api": {"auth_strategy": "keystone"},
        "placement": auth(layout, password, "nova"),
        "neutron": auth(layout, password, "nova"),
        # cross_az_attach=False: volumes attach only to servers of their own zone, and a server booted from a
        # volume goes to the volume's zone (topology.AVAILABILITY_ZONES). Read by nova-api and the computes.
        "cinder": {**auth(layout, password, "nova"), "os_region_name": REGION, "cross_az_attach": False},
        "glance": {"region_name": REGION},
        # Nova sends its service token along with the user's (required for volume detach by cinder).
        "service_user": auth(layout, password, "nova", send_service_user_token=True),
        "vnc": {"enabled": False},
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def controller(layout: Layout, password: dict[str, str]) -> Sections:
    return merge(_common(layout, password), {
        "DEFAULT": {"host": topology.NOVA_CONTROLLER_HOST, "my_ip": layout.controller,
                    "state_path": str(layout.data / "nova")},
        "wsgi": {"api_paste_config": str(layout.venv / "etc" / "nova" / "api-paste.ini")},
        "api_database": {"connection": db_url(layout, password, "nova_api")},
        "database": {"connection": db_url(layout, password, "nova_cell1")},
        "keystone_authtoken": authtoken(layout, password, "nova"),
        # nova-api-metadata answers the edge's metadata proxy, which names the instance (X-Instance-ID) and signs
        # it with this secret, as neutron's metadata agent does.
        "neutron": {"service_metadata_proxy": True, "metadata_proxy_shared_secret": password["metadata"]},
        "conductor": {"workers": 1},
        "scheduler": {
            "workers": 1,
            # The scheduler maps new computes into cell1 itself; provisioning waits for it.
            "discover_hosts_in_cells_interval": 2,
            "query_placement_for_image_type_support": True,
        },
        "filter_scheduler": {"enabled_filters": ",".join(SCHEDULER_FILTERS)},
        "oslo_concurrency": lock(str(layout.data / "nova" / "lock")),
    })


def scheduler_elsewhere(layout: Layout, password: dict[str, str], host: str) -> Sections:
    """The controller's nova.conf as a copy on another host names that host: a scheduler started with it there
    registers under it (the fault overcloud-scheduler-beside-compute)."""
    sections = controller(layout, password)
    sections["DEFAULT"] = {**sections["DEFAULT"], "host": host,
                           "my_ip": topology.TOPOLOGY.get(host).address(layout)}
    return sections


def compute(layout: Layout, password: dict[str, str], name: str, *, on: str | None = None,
            state_path: str = STATE_PATH) -> Sections:
    """/etc/nova/nova.conf of compute ``name`` (a KVM or a VMware one), running on host ``on`` (itself)."""
    host = topology.TOPOLOGY.get(on or name)
    cluster = topology.VMWARE_COMPUTES.get(name) or (
        topology.VMWARE_COMPUTES["vmware-1"] if name == topology.TWIN_COMPUTE else None)
    sections: Sections = {
        "DEFAULT": {
            "host": name,
            "my_ip": host.address(layout),
            "my_block_storage_ip": host.data_address() or host.address(layout),
            "state_path": state_path,
            "instances_path": f"{state_path}/instances",
            "compute_driver": VMWARE_DRIVER if cluster else KVM_DRIVER,
        },
        "oslo_concurrency": lock(f"{state_path}/lock"),
    }
    if cluster is None:
        sections["libvirt"] = {"nfs_mount_options": NFS_MOUNT_OPTIONS}
        if topology.NESTED:
            # An overcloud compute is an undercloud instance, whose CPU offers no virtualisation: QEMU, as a nested
            # cloud's computes must be configured there (SP-NEST-007).
            sections["libvirt"]["virt_type"] = "qemu"
        # An NSX-T KVM transport node: VIFs are plugged into the NSX-managed bridge, not br-int.
        sections["neutron"] = {"ovs_bridge": nsx_design.KVM_BRIDGE}
    else:
        sections["DEFAULT"]["update_resources_interval"] = UPDATE_RESOURCES_INTERVAL
        # nova 34 runs nova-compute on native threads by default, but oslo.vmware's SOAP client (suds) is not
        # thread-safe: under concurrent boots and deletes a reply was unmarshalled as an empty RetrieveResult
        # ("'returnval' object has no attribute 'objects'", a cluster of 0 VCPUs) and the instance went to
        # ERROR. Green threads switch only on I/O, as nova always ran.
        sections["DEFAULT"]["concurrency_backend"] = "eventlet"
        sections["image_cache"] = dict(IMAGE_CACHE)
        # nova's own VMware driver: the compute talks to vCenter, which places the VM by DRS.
        sections["vmware"] = {
            "host_ip": layout.controller,
            "host_port": layout.port("vcenter"),
            "host_username": vcenter.USER,
            "host_password": password["vcenter"],
            "cluster_name": cluster,
            "datastore_regex": DATASTORE_REGEX,
            # TLS verified against the lab vCenter's own CA, as a production compute must.
            "ca_file": str(vcenter.ca_file(layout.state)),
            "insecure": False,
            # Default 10, with sleeps growing by 10 s up to 60 s between tries: a lost vCenter shows
            # (service disabled 'set by vmwareapi host_state') only after ~7 minutes. The lab's vCenter
            # is on the management network next door: a failed call is a real failure at once.
            "api_retry_count": 1,
            # No integration_bridge: the NSX-T way, the port's vif_details name the logical switch.
        }
    return merge(_common(layout, password), sections)
