"""The lab's faults, as data: each is what a check exists to catch.

A fault is a name, a description, the control IDs expected to catch it (``SP-<AREA>-<NNN>``, NNN = the
check's number in design/checks.md) and one action (by family: processes.py, configuration.py, cloud.py,
vsphere.py, network.py, nsx.py). Adding a fault is adding one entry here.
"""

from __future__ import annotations

from stackproof_lab import nested, provision
from stackproof_lab.configs.nova import SCHEDULER_FILTERS
from stackproof_lab.configs.openstack import SERVICE_DOWN_TIME
from stackproof_lab.faults.base import Fault, Together
from stackproof_lab.faults.cloud import (
    AggregateHost,
    AggregateMetadata,
    ImageProperty,
    RenameAggregateKey,
    VolumeTypeSpec,
)
from stackproof_lab.faults.configuration import ConfigOption
from stackproof_lab.faults.nested import (
    OvercloudEndpointInternal,
    OvercloudFault,
    TrunkSubportRemoved,
    UndercloudNetworkMtu,
    UndercloudPortSecurity,
    UndercloudServerStopped,
)
from stackproof_lab.faults.network import DataNicChange, TunnelBlocked, VCenterCut
from stackproof_lab.faults.nsx import (
    AgentRegistered,
    PolicyRuleRemoved,
    ProviderNetwork,
    SegmentPortMoved,
    SegmentTransportZone,
)
from stackproof_lab.faults.processes import KillService, StopService, StrayService, VolumeBackendsDown
from stackproof_lab.faults.vsphere import HOST_STATE_REASON, StopVCenter, VSphereChange
from stackproof_lab.topology import (
    AVAILABILITY_ZONES,
    CINDER_BACKEND,
    CINDER_HOST,
    CLUSTERS,
    DATA_MTU,
    DATA_NIC,
    KVM_COMPUTES,
    NESTED,
    OVERCLOUD_PREFIX,
    TENANT_MTU,
    TWIN_COMPUTE,
    TWIN_SCHEDULER,
    VMDK_BACKEND,
    VMWARE_COMPUTES,
)

_COMPUTES = (*KVM_COMPUTES, *VMWARE_COMPUTES)
_FILTERS_WITHOUT_ISOLATION = ",".join(f for f in SCHEDULER_FILTERS if f != "AggregateImagePropertiesIsolation")
_CLUSTER_1 = CLUSTERS["vmware-1"]
_VOLUME_BACKENDS = tuple(f"{CINDER_HOST}@{b}" for b in (CINDER_BACKEND, VMDK_BACKEND))
_DATASTORE_1 = "sp-vmfs-1"  # the lab vCenter's shared VMFS datastore of sp-cluster-1
# A trait every VMware provider already carries, so isolating by it needs no provider change.
_VMWARE_TRAIT = "trait:COMPUTE_IMAGE_TYPE_VMDK"
_SG_RULE_FAULT = "nsx-policy-rule-missing"  # also the name of the file its removed rule is kept in
# The lab vCenter's own advanced setting (vcenter/nfc.go): how ExportVm hands out a snapshot's disk.
_EXPORT_FORMAT = "config.stackproof.lab.exportDiskFormat"

FAULTS: list[Fault] = [
    Fault(
        "cinder-volume-stopped",
        f"cinder-volume is stopped (both backends, {CINDER_BACKEND} and {VMDK_BACKEND}): "
        "they report down, volumes cannot be created",
        # BLK-1 sees both down; every workload check needs a new volume.
        ("SP-BLK-001", "SP-BLK-006", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009", "SP-BLK-012"),
        VolumeBackendsDown(StopService("cinder-volume"), _VOLUME_BACKENDS),
    ),
    Fault(
        "vmdk-backend-stopped",
        f"cinder-volume no longer runs the VMware backend {VMDK_BACKEND} (taken out of enabled_backends; "
        f"{CINDER_BACKEND} runs on): its service record stays and reports down, VMDK volumes cannot be made",
        # BLK-1 sees it down; the checks that need a VMDK volume (VMware attach, VMDK on KVM, VMware boot from
        # volume, VMware servers booted from volumes) cannot get one.
        ("SP-BLK-001", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009", "SP-BLK-012"),
        VolumeBackendsDown(
            ConfigOption("cinder-storage", "DEFAULT", "enabled_backends", CINDER_BACKEND),
            (f"{CINDER_HOST}@{VMDK_BACKEND}",),
        ),
    ),
    Fault(
        "vmdk-type-on-kvm-backend",
        f"volume type vmdk-thin's volume_backend_name names the KVM backend {CINDER_BACKEND}: no vmdk-thin "
        f"volume can be made any more (the type's zone {AVAILABILITY_ZONES['vmware']} holds no {CINDER_BACKEND}; "
        "without zones they would be NFS files a VMware server cannot attach)",
        # BLK-2 reads the misrouting; every check that needs a vmdk-thin volume (BLK-7, BLK-8, BLK-9, BLK-12)
        # finds cinder refusing to create it.
        ("SP-BLK-002", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009", "SP-BLK-012"),
        VolumeTypeSpec("vmdk-thin", "volume_backend_name", CINDER_BACKEND, provisioned=VMDK_BACKEND),
    ),
    Fault(
        "data-nic-down",
        f"every compute host's data NIC {DATA_NIC} is down: no route to the storage network, so KVM volumes "
        "cannot be attached (the NFS server is unreachable) nor booted from",
        # BLK-5 reads the NIC; BLK-6 attaches and writes over NFS, BLK-9 and BLK-12 boot KVM servers from
        # volumes.
        ("SP-BLK-005", "SP-BLK-006", "SP-BLK-009", "SP-BLK-012"),
        DataNicChange(_COMPUTES, up=False),
    ),
    Fault(
        "data-nic-mtu-1500",
        f"every compute host's data NIC {DATA_NIC} has MTU 1500 instead of the designed {DATA_MTU}: TCP's MSS "
        "keeps NFS working (as on a real network), jumbo frames are lost",
        ("SP-BLK-005",),
        DataNicChange(_COMPUTES, mtu=1500),
    ),
    Fault(
        "kvm-2-data-nic-down",
        f"kvm-2's data NIC {DATA_NIC} is down (kvm-1's is fine): the second KVM host has no storage network",
        ("SP-BLK-005",),
        DataNicChange(("kvm-2",), up=False),
    ),
    Fault(
        "cinder-vcenter-address-differs",
        f"cinder's {VMDK_BACKEND} backend on the storage host reaches vCenter as 'vcenter' while nova uses its "
        "address: the same vCenter today (its certificate names both), but nothing ties cinder's vCenter to "
        "nova's any more",
        ("SP-BLK-003",),
        ConfigOption("cinder-storage", VMDK_BACKEND, "vmware_host_ip", "vcenter"),
    ),
    Fault(
        "volume-zones-not-followed",
        "nova-api's [cinder] cross_az_attach=True (designed False): a server booted from a volume no longer "
        f"follows its volume's availability zone ({', '.join(AVAILABILITY_ZONES.values())}), so the scheduler "
        "may put a KVM volume's server on VMware and a VMDK volume's on KVM (the computes then abort the build, "
        "still refusing the cross-zone attach themselves)",
        ("SP-BLK-011", "SP-BLK-012"),
        ConfigOption("nova", "cinder", "cross_az_attach", True, restart=("nova-api",)),
    ),
    Fault(
        "kvm-1-killed",
        "nova-compute on kvm-1 is killed with SIGKILL (a crash); clear restarts it",
        ("SP-FO-001",),
        KillService("nova-compute-kvm-1"),
    ),
    Fault(
        "kvm-aggregate-key-ignored",
        "aggregate kvm's metadata key img_hv_type is renamed to hypervisor_type, which "
        "AggregateImagePropertiesIsolation silently skips: isolation is off and nothing says so",
        ("SP-AGG-003",),
        RenameAggregateKey("kvm", "img_hv_type", "hypervisor_type"),
    ),
    Fault(
        "isolation-filter-removed",
        "AggregateImagePropertiesIsolation is dropped from the scheduler's [filter_scheduler] enabled_filters",
        ("SP-AGG-001",),
        ConfigOption(
            "nova", "filter_scheduler", "enabled_filters", _FILTERS_WITHOUT_ISOLATION,
            restart=("nova-scheduler",)),
    ),
    Fault(
        "placement-image-type-query-off",
        "[scheduler] query_placement_for_image_type_support is off: placement no longer pre-filters "
        "hosts by the image's disk format",
        ("SP-AGG-001",),
        ConfigOption("nova", "scheduler", "query_placement_for_image_type_support", False,
                     restart=("nova-scheduler",)),
    ),
    Fault(
        "report-interval-too-long",
        f"kvm-1's report_interval is 15 s, longer than service_down_time ({SERVICE_DOWN_TIME} s): "
        "nova then silently stretches service_down_time and the compute flaps",
        ("SP-FO-003",),
        ConfigOption("nova-kvm-1", "DEFAULT", "report_interval", 15),
    ),
    Fault(
        "vmware-1-killed",
        f"nova-compute on vmware-1 (fronting {_CLUSTER_1}) is killed with SIGKILL: provisioning to that "
        "cluster stops although vCenter and its VMs are fine; clear restarts it",
        # FO-4 finds no process. SP-FO-007 kills this compute itself: a proof of it needs a compute that is
        # up to begin with (service-down-time-stretched).
        ("SP-FO-001", "SP-FO-004"),
        KillService("nova-compute-vmware-1"),
    ),
    Fault(
        "service-down-time-stretched",
        f"the controller's service_down_time is 40 s instead of the designed {SERVICE_DOWN_TIME} s: the API "
        "and the scheduler see a crashed compute only after 40 s, so provisioning to a lost cluster keeps failing "
        "late instead of being refused",
        # FO-3 reads the setting; FO-7 measures the detection it slows down, beyond the designed bound.
        ("SP-FO-003", "SP-FO-007"),
        ConfigOption("nova", "DEFAULT", "service_down_time", 40, restart=("nova-api", "nova-scheduler")),
    ),
    Fault(
        "vmware-1-vcenter-unreachable",
        "an nftables rule on host vmware-1 rejects its connections to the lab vCenter: the vCenter and every "
        "other client carry on; vmware-1's driver cannot reach it and disables its "
        f"service ({HOST_STATE_REASON!r}); clear deletes the rule and nova enables the service by itself",
        # FO-1 sees the service disabled, FO-6 the signature, FO-4 the vCenter port unreachable from vmware-1.
        ("SP-FO-001", "SP-FO-004", "SP-FO-006"),
        VCenterCut("vmware-1"),
    ),
    Fault(
        "vmware-2-vcenter-unreachable",
        "an nftables rule on host vmware-2 (fronting sp-cluster-2) rejects its connections to the lab vCenter; "
        "vmware-1 carries on",
        ("SP-FO-001", "SP-FO-004", "SP-FO-006"),
        VCenterCut("vmware-2"),
    ),
    Fault(
        "vmware-2-tls-unverified",
        "vmware-2's /etc/nova/nova.conf (and no other host's) says [vmware] insecure = true: its driver no "
        "longer verifies the vCenter's certificate",
        ("SP-FO-003",),
        ConfigOption("nova-vmware-2", "vmware", "insecure", True),
    ),
    Fault(
        "vmware-cluster-fronted-twice",
        f"a second nova-compute ({TWIN_COMPUTE}) is configured for {_CLUSTER_1}, which vmware-1 already "
        "fronts: two hypervisors with one name, a placement provider that cannot be created, and two computes "
        "spawning into one cluster; clear stops it and deletes its service record",
        # FO-5 finds the hypervisor name twice and the cluster fronted by two services; FO-2 finds the twin's
        # hypervisor without a placement provider (its name is vmware-1's, so placement refuses it).
        # The twin is a nova-compute on a host the target's inventory does not describe: every check that takes
        # its computes from the cloud says so (FO-3, FO-4, BLK-3, NSX-3 and VMDK-8 read their nova.conf, BLK-5
        # their data NIC). BLK-10: the twin is in no aggregate, so in nova's default zone, which no cinder zone
        # serves.
        ("SP-BLK-003", "SP-BLK-005", "SP-BLK-010", "SP-FO-002", "SP-FO-003", "SP-FO-004", "SP-FO-005",
         "SP-NSX-003", "SP-VMDK-008"),
        StrayService(f"nova-compute-{TWIN_COMPUTE}", TWIN_COMPUTE),
    ),
    Fault(
        "vcenter-stopped",
        "the lab vCenter is stopped: the VMware computes keep running, cannot reach it and disable their "
        f"services ({HOST_STATE_REASON!r}); clear starts it, restarts the VMware computes and cinder-volume "
        "(they hold references into the old vCenter) and enables the services again",
        # FO-6 looks for exactly this signature; FO-1 sees the services disabled; FO-4 gets no answer from
        # vCenter on the compute; FO-2, AGG-11 and AGG-12 cannot read the vCenter they verify; AGG-6 cannot
        # boot onto VMware, and AGG-8, AGG-9 and AGG-10 find no VMware host or server to try their case on.
        ("SP-FO-001", "SP-FO-002", "SP-FO-004", "SP-FO-006", "SP-AGG-006", "SP-AGG-008", "SP-AGG-009",
         "SP-AGG-010", "SP-AGG-011", "SP-AGG-012"),
        StopVCenter(),
    ),
    Fault(
        "drs-partially-automated",
        f"DRS on {_CLUSTER_1} is set to partiallyAutomated (ReconfigureComputeResource_Task): vCenter no "
        "longer moves VMs by itself, so maintenance and balancing wait for an operator",
        ("SP-AGG-011",),
        VSphereChange(("drs", _CLUSTER_1, "partiallyAutomated"), ("drs", _CLUSTER_1, "fullyAutomated")),
    ),
    Fault(
        "datastore-unshared",
        f"datastore {_DATASTORE_1} is unmounted from one host of {_CLUSTER_1} (UnmountVmfsVolume): not shared "
        "by every host any more, so vMotion and DRS cannot use that host for its VMs",
        ("SP-AGG-012", "SP-BLK-004"),
        VSphereChange(
            ("datastore", _CLUSTER_1, _DATASTORE_1, "unmount"), ("datastore", _CLUSTER_1, _DATASTORE_1, "mount")
        ),
    ),
    Fault(
        "sp-cluster-2-drs-manual",
        "DRS on sp-cluster-2, the cluster vmware-2 fronts, is set to manual: vCenter places nothing by itself there",
        ("SP-AGG-011",),
        VSphereChange(("drs", "sp-cluster-2", "manual"), ("drs", "sp-cluster-2", "fullyAutomated")),
    ),
    Fault(
        "host-in-maintenance",
        f"one host of {_CLUSTER_1} enters maintenance mode (EnterMaintenanceMode_Task): it takes no VMs",
        ("SP-AGG-011",),
        VSphereChange(("maintenance", _CLUSTER_1, "enter"), ("maintenance", _CLUSTER_1, "exit")),
    ),
    Fault(
        "vmware-aggregate-has-kvm-host",
        "kvm-1 is moved into the vmware aggregate (its availability zone keeps a host out of two): a KVM host "
        "now takes the vmware aggregate's images",
        ("SP-AGG-002", "SP-AGG-005"),
        AggregateHost("vmware", "kvm-1", leaving="kvm"),
    ),
    Fault(
        "vmdk-image-untagged",
        "the lab's VMDK image loses its hypervisor_type property: nothing ties it to the VMware aggregate",
        ("SP-AGG-004",),
        ImageProperty("sp-vmware-sparse-vmdk", "hypervisor_type", None, provisioned="vmware"),
    ),
    Fault(
        "image-invalid-hypervisor-type",
        "the lab's qcow2 image says hypervisor_type=esxi, a value nova rejects (ValueError at boot)",
        # AGG-4 reads the bad value; AGG-7, AGG-8 and AGG-10 find nova refusing the cloud's only qcow2 image.
        ("SP-AGG-004", "SP-AGG-007", "SP-AGG-008", "SP-AGG-010"),
        ImageProperty("sp-qemu-qcow2", "hypervisor_type", "esxi", provisioned="qemu"),
    ),
    Fault(
        "qcow2-image-untagged",
        "the lab's qcow2 image loses its hypervisor_type property: ImagePropertiesFilter and "
        "AggregateImagePropertiesIsolation both pass an untagged image (nova bug 1677217) and placement's "
        "image-type pre-filter does not run on rebuild, so a VMware server can be rebuilt into it",
        ("SP-AGG-010",),
        ImageProperty("sp-qemu-qcow2", "hypervisor_type", None, provisioned="qemu"),
    ),
    Fault(
        "vmdk-image-unfiltered",
        "the lab's VMDK image loses its hypervisor_type and [scheduler] query_placement_for_image_type_support "
        "is off: no scheduler layer ties the image to VMware any more, and a request for a KVM host puts it there",
        # Each change alone is caught by a readonly check (AGG-4, AGG-1); AGG-8 shows what they do together.
        ("SP-AGG-001", "SP-AGG-004", "SP-AGG-008"),
        Together((
            ImageProperty("sp-vmware-sparse-vmdk", "hypervisor_type", None, provisioned="vmware"),
            ConfigOption("nova", "scheduler", "query_placement_for_image_type_support", False,
                     restart=("nova-scheduler",)),
        )),
    ),
    Fault(
        "vmware-aggregate-isolated-by-trait",
        f"the vmware aggregate is isolated the isolate_aggregates way ([scheduler] "
        f"enable_isolated_aggregate_filtering, aggregate metadata {_VMWARE_TRAIT}=required, the lab VMDK image "
        "requiring the same trait): a working policy, but not the declared one (AggregateImagePropertiesIsolation "
        "alone), and images without the trait are refused there, untagged ones included",
        ("SP-AGG-009",),
        Together((
            ImageProperty("sp-vmware-sparse-vmdk", _VMWARE_TRAIT, "required", provisioned=None),
            AggregateMetadata("vmware", _VMWARE_TRAIT, "required"),
            ConfigOption("nova", "scheduler", "enable_isolated_aggregate_filtering", True, restart=("nova-scheduler",)),
        )),
    ),
    Fault(
        "neutron-core-plugin-ml2",
        "Neutron's core plugin is plain ml2 instead of the NSX Policy plugin (vmware_nsxp): the lab's Neutron works "
        "the same (its NSX mechanism driver runs either way), but the deployment is not the designed one",
        ("SP-NSX-001",),
        ConfigOption("neutron", "DEFAULT", "core_plugin", "ml2", restart=("neutron-api",)),
    ),
    Fault(
        "tenant-network-vlan",
        f"a VLAN network (physnet1, VLAN 150) is given to project {provision.MEMBER_PROJECT}: a tenant network "
        "that is no NSX overlay",
        ("SP-NSX-002",),
        ProviderNetwork("sp-fault-vlan-net", "vlan", "physnet1", 150),
    ),
    Fault(
        "ovs-agent-registered",
        f"an Open vSwitch agent is registered on {KVM_COMPUTES[0]}: an L2 agent next to NSX on a compute",
        ("SP-NSX-003",),
        AgentRegistered("5f0c2a8e-0d4b-4c1e-9a37-6b2e1f7d9c01", "Open vSwitch agent", "neutron-openvswitch-agent",
                        KVM_COMPUTES[0]),
    ),
    Fault(
        "vmware-port-bound-as-portgroup",
        "the lab's Neutron binds ports on the VMware computes as vSphere portgroup ports (vif_type dvs, as the DVS "
        "plugin does) instead of NSX logical switch ports: nova's VMware driver backs their NICs with a portgroup "
        "named after the network instead of the logical switch's opaque network, and no host carries one, so "
        "VMware servers with ports do not boot",
        ("SP-NSX-004", "SP-NSX-005", "SP-NSX-008", "SP-NSX-010"),
        ConfigOption("ml2", "lab_nsx", "vmware_bind_dvs", True, restart=("neutron-api",)),
    ),
    Fault(
        "nsx-port-on-wrong-segment",
        f"in NSX, port {provision.PORT}'s segment port is moved from {provision.NETWORK}'s segment to a segment of "
        "its own: the port would attach to another logical switch than its network's",
        ("SP-NSX-007",),
        SegmentPortMoved(provision.PORT, provision.NETWORK, "sp-fault-segment"),
    ),
    Fault(
        "nsx-segment-unrealized",
        f"in NSX, {provision.NETWORK}'s segment names a transport zone that does not exist: it cannot be realized "
        "(no logical switch)",
        ("SP-NSX-007",),
        SegmentTransportZone(provision.NETWORK, "sp-fault-missing-tz"),
    ),
    Fault(
        _SG_RULE_FAULT,
        f"in NSX, the tcp/22 rule of security group {provision.SECURITY_GROUP}'s security policy is deleted (Neutron "
        "still has the rule): NSX does not enforce what the group allows",
        ("SP-NSX-009",),
        PolicyRuleRemoved(_SG_RULE_FAULT, provision.SECURITY_GROUP, "tcp", 22),
    ),
    Fault(
        "nsx-firewall-not-enforced",
        "the NSX node agent of vmware-2 (the second VMware compute; vmware-1 and the KVM computes carry on) stops "
        "enforcing the distributed firewall (NSX still holds every rule): its instances answer whatever their "
        "security groups say",
        ("SP-NSX-008",),
        ConfigOption("nsx-agent-vmware-2", "agent", "enforce_firewall", False),
    ),
    Fault(
        "kvm-tap-off-nsx-bridge",
        "the NSX node agent of kvm-2 (the second KVM compute; kvm-1 carries on) plugs instance taps into Open vSwitch "
        "bridge br-int instead of the NSX-managed bridge nova names (its segments follow them there, so traffic "
        "still flows): NSX would not know those VIFs by their ports",
        ("SP-NSX-006",),
        ConfigOption("nsx-agent-kvm-2", "overlay", "integration_bridge", "br-int"),
    ),
    Fault(
        "overlay-tunnel-blocked-between-clusters",
        "a firewall on kvm-2 (the second KVM compute; kvm-1 carries on) drops the overlay's tunnel traffic (VXLAN) "
        "with the VMware computes' TEPs: every host still reaches the edge, so floating IPs answer, but servers on "
        "kvm-2 and on VMware no longer reach each other on their common network",
        ("SP-NSX-010",),
        TunnelBlocked(("kvm-2",), VMWARE_COMPUTES),
    ),
    Fault(
        "vmware-computes-disagree-on-linked-clone",
        "vmware-2 sets [vmware] use_linked_clone=false while vmware-1 keeps the default (true): the two computes "
        "share datastore sp-vmfs-shared and its image cache, one cloning linked children off cached images the "
        "other treats as copies to age away",
        ("SP-VMDK-008",),
        ConfigOption("nova-vmware-2", "vmware", "use_linked_clone", False, restart=("nova-compute-vmware-2",)),
    ),
    Fault(
        "vmware-computes-disagree-on-cache-prefix",
        "vmware-2 sets [vmware] cache_prefix=vmware-2- while vmware-1 has none: on the datastore they share each "
        "keeps its own image cache folder, so an image moves from Glance twice",
        ("SP-VMDK-008",),
        ConfigOption("nova-vmware-2", "vmware", "cache_prefix", "vmware-2-", restart=("nova-compute-vmware-2",)),
    ),
    Fault(
        "vmdk-image-unknown-adapter",
        "the lab's streamOptimized image says vmware_adaptertype=virtio-scsi, a SCSI model nova accepts but its "
        "VMware driver does not know: the root disk silently gets the default LSI Logic controller",
        # AGG-4 reads the value; VMDK-6 boots it and finds another controller.
        ("SP-AGG-004", "SP-VMDK-006"),
        ImageProperty("sp-vmware-stream-vmdk", "vmware_adaptertype", "virtio-scsi", provisioned="lsiLogic"),
    ),
    Fault(
        "vmdk-image-cache-ages-at-once",
        "vmware-1 runs nova's image cache manager every second and removes a cached image as soon as no server "
        "uses it ([image_cache] manager_interval=1, remove_unused_original_minimum_age_seconds=0): its cache keeps "
        "nothing, every boot there after the last server went copies the image from Glance again",
        # VMDK-4 boots each format twice on each compute in turn; VMDK-8 sees vmware-1's aging differ from
        # vmware-2's on the datastore they share.
        ("SP-VMDK-004", "SP-VMDK-008"),
        ConfigOption("nova-vmware-1", "image_cache", "manager_interval", 1,
                     also=(("remove_unused_original_minimum_age_seconds", 0),)),
    ),
    Fault(
        "vcenter-exports-flat-disks",
        f"the lab vCenter's ExportVm hands out a disk's raw flat extent instead of a streamOptimized VMDK (advanced "
        f"setting {_EXPORT_FORMAT}=flat, through OptionManager.UpdateOptions): nova uploads a snapshot's bytes as "
        "they come, labelled streamOptimized",
        ("SP-VMDK-007",),
        VSphereChange(("option", _EXPORT_FORMAT, "flat"), ("option", _EXPORT_FORMAT, "streamOptimized")),
    ),
    Fault(
        "glance-format-check-on",
        "glance's [image_format] require_image_format_match is on while Glance holds a flat VMDK image "
        "(sp-vmware-flat-vmdk): such an image could not be uploaded again, and no new one can be",
        ("SP-VMDK-001",),
        ConfigOption("glance", "image_format", "require_image_format_match", True, restart=("glance-api",)),
    ),
    Fault(
        "vmdk-flat-image-labelled-thin",
        "the lab's flat VMDK image says vmware_disktype=thin: a thin disk exported from VMFS, which moves its full "
        "64 MiB extent to every datastore like a preallocated one",
        ("SP-VMDK-002",),
        ImageProperty("sp-vmware-flat-vmdk", "vmware_disktype", "thin", provisioned="preallocated"),
    ),
]
# The nested cloud (`up --nested`): faults the undercloud lab injects, on itself, on the overcloud's APIs, or handed to
# the overcloud lab (whose own catalogue, below, holds what lives in its config files and services).
_OVERCLOUD_COMPUTE = f"{OVERCLOUD_PREFIX}{KVM_COMPUTES[1]}"  # on kvm-1 with the overcloud's controller (nested.py)
_SMALL_MTU = 1400
_OVERCLOUD_FILTERS = ",".join(f for f in SCHEDULER_FILTERS
                              if f not in ("ImagePropertiesFilter", "AggregateImagePropertiesIsolation"))
FAULTS += [
    Fault(
        "overcloud-endpoint-internal",
        "the overcloud catalogue's public placement endpoint names the controller's own address, on the "
        "undercloud's tenant network sp-overcloud, instead of its published floating IP",
        ("SP-NEST-001",),
        OvercloudEndpointInternal("placement"),
    ),
    Fault(
        "overcloud-node-shut-off",
        f"overcloud compute {_OVERCLOUD_COMPUTE}'s undercloud server is shut off (os-stop)",
        ("SP-NEST-002",),
        UndercloudServerStopped(_OVERCLOUD_COMPUTE),
    ),
    Fault(
        "overcloud-controllers-share-a-host",
        f"a second overcloud nova-scheduler runs on {_OVERCLOUD_COMPUTE}, whose undercloud server shares undercloud "
        "host kvm-1 with the overcloud's controller: two overcloud controllers on one undercloud host",
        ("SP-NEST-003",),
        OvercloudFault("overcloud-scheduler-beside-compute"),
    ),
    Fault(
        "undercloud-mtu-below-overlay",
        f"the undercloud network {nested.NETWORK}, which tunnels the overcloud's Geneve networks (MTU "
        f"{TENANT_MTU - 50}), is set to MTU {_SMALL_MTU}: their frames and Geneve's 50 bytes no longer fit",
        ("SP-NEST-004",),
        UndercloudNetworkMtu(nested.NETWORK, _SMALL_MTU),
    ),
    Fault(
        "overcloud-vlan-not-trunked",
        f"overcloud node {_OVERCLOUD_COMPUTE}'s undercloud trunk loses the sub-port that carries the overcloud's "
        f"provider VLAN {provision.PROVIDER_VLAN} ({provision.PROVIDER_NETWORK})",
        ("SP-NEST-004",),
        TrunkSubportRemoved(f"{nested.PORT_PREFIX}{_OVERCLOUD_COMPUTE}",
                            nested.subport_name(_OVERCLOUD_COMPUTE),
                            provision.PROVIDER_VLAN),
    ),
    Fault(
        "overcloud-node-port-filtered",
        f"port security is on for {_OVERCLOUD_COMPUTE}'s undercloud port, which bridges the overcloud's traffic, in "
        "a security group that lets everything in: the node works on, but the undercloud filters what it bridges",
        ("SP-NEST-005",),
        UndercloudPortSecurity(f"{nested.PORT_PREFIX}{_OVERCLOUD_COMPUTE}", "sp-fault-overcloud-open"),
    ),
    Fault(
        "overcloud-virt-type-kvm",
        f"overcloud compute {OVERCLOUD_PREFIX}{KVM_COMPUTES[0]} has [libvirt] virt_type=kvm on an undercloud instance "
        "whose CPU offers no virtualisation (no vmx/svm)",
        ("SP-NEST-006", "SP-NEST-007"),
        OvercloudFault("overcloud-virt-type-kvm"),
    ),
    Fault(
        "overcloud-image-filters-off",
        "the overcloud's scheduler runs without ImagePropertiesFilter and AggregateImagePropertiesIsolation: a KVM "
        "image lands on its QEMU computes",
        ("SP-NEST-008",),
        OvercloudFault("overcloud-image-filters-off"),
    ),
    Fault(
        "overcloud-metadata-stopped",
        "the overcloud's nova-api-metadata is stopped: its guests get no key pair or metadata",
        ("SP-NEST-009",),
        OvercloudFault("overcloud-metadata-stopped"),
    ),
]
if NESTED:
    # An overcloud's own catalogue: what the undercloud's nested faults hand it (OvercloudFault above).
    FAULTS = [
        Fault("overcloud-scheduler-beside-compute",
              f"{TWIN_SCHEDULER} runs on {KVM_COMPUTES[1]} with a copy of the controller's nova.conf",
              ("SP-NEST-003",), StrayService(TWIN_SCHEDULER, KVM_COMPUTES[1], "nova-scheduler")),
        Fault("overcloud-virt-type-kvm", f"{KVM_COMPUTES[0]}: [libvirt] virt_type=kvm", ("SP-NEST-006", "SP-NEST-007"),
              ConfigOption(f"nova-{KVM_COMPUTES[0]}", "libvirt", "virt_type", "kvm")),
        Fault("overcloud-image-filters-off", "the scheduler without ImagePropertiesFilter and "
              "AggregateImagePropertiesIsolation", ("SP-NEST-008",),
              ConfigOption("nova", "filter_scheduler", "enabled_filters", _OVERCLOUD_FILTERS,
                           restart=("nova-scheduler",))),
        Fault("overcloud-metadata-stopped", "nova-api-metadata stopped", ("SP-NEST-009",),
              StopService("nova-api-metadata")),
    ]
BY_NAME = {fault.name: fault for fault in FAULTS}
