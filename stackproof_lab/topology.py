"""The lab's hosts, networks and what runs where, as data.

Every role of the lab is a Linux host of its own (network, mount, PID and UTS namespaces, an sshd): a
controller with the control plane, a storage host with cinder-volume and the NFS server of the KVM
backend, two KVM computes and two VMware computes. The management network is a bridge in the root
namespace (the runner, where the suites run, is its first address); the storage network is a bridge
inside the storage host, and every compute has its own data NIC on it.

The tenant networks are an overlay, as NSX makes them: an edge host (the NSX edge: DHCP, metadata proxy,
routers with NAT) and every compute are transport nodes, each with a tunnel endpoint (``tep0``) on the
transport network; a Neutron network is a VXLAN segment between them (geneve is not in this kernel), with
one bridge per segment on each node. The external network (floating IPs, routers' gateways) is a bridge in
the root namespace, so the runner reaches instances by floating IP as it would on a real cloud. What
follows the cloud (segments, instances, DHCP servers, routers, security groups) is realized by the lab's
realizer (stackproof_lab/dataplane); what is here is fixed.

Addresses come from documentation ranges (RFC 5737). The management subnet is a /27 of 198.51.100.128/25
chosen by the port base (layout.py), so that labs with different port bases coexist on one machine; the
external subnet is the /27 of 198.51.100.0/25 with the same index. The storage subnet (203.0.113.0/24) and
the transport network (192.0.2.240/28) live only inside the lab's namespaces: in the root namespace those
ranges hold the machine's package registries and its own link, which no lab host needs. Names of network
namespaces, bridges and links carry the lab id (``sp<port base>``) for the same reason.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from stackproof_lab.layout import Layout

STORAGE_SUBNET = ipaddress.ip_network("203.0.113.0/24")
STORAGE_SERVER = ipaddress.ip_address("203.0.113.10")  # the storage host's address on the storage bridge
DATA_NIC = "spdata0"
DATA_MTU = 9000
MGMT_NIC = "eth0"
STORAGE_BRIDGE = "br-storage"  # inside the storage host
# The overlay's transport network: a bridge in the root namespace without an address (nothing is routed
# there), each transport node's tunnel endpoint on it. MTU 1600 as NSX wants its TEPs: a 1500-byte tenant
# frame plus the VXLAN headers (50 bytes) fits.
TEP_SUBNET = ipaddress.ip_network("192.0.2.240/28")
TEP_NIC = "tep0"
TEP_MTU = 1600
VXLAN_PORT = 4789
TENANT_MTU = 1500  # what a segment carries (Neutron's network MTU)
# The external network: a bridge in the root namespace (the runner's address is the subnet's gateway), the
# edge's uplink ext0 on it, and inside the edge br-ex, where routers' gateway interfaces are plugged.
EXTERNAL_NIC = "ext0"
EXTERNAL_BRIDGE = "br-ex"
EXTERNAL_PHYSNET = "external"  # provider:physical_network of the external network (flat)

# The lab runs in one of two profiles, chosen by STACKPROOF_LAB_PROFILE when its commands start. "cloud" (the
# default) is the whole lab on the machine's namespaces. "overcloud" is the same declared lab, smaller (a
# controller and two KVM computes: no vCenter, no Block Storage), placed inside instances of a "cloud" lab: its
# hosts are those instances' network namespaces, its management network their tenant network (nested.py). Its
# host names carry "oc-" so that the two clouds' hosts, services and hypervisors are never confused.
PROFILE_ENV = "STACKPROOF_LAB_PROFILE"
CLOUD, OVERCLOUD = "cloud", "overcloud"
PROFILES = (CLOUD, OVERCLOUD)
PROFILE = os.environ.get(PROFILE_ENV) or CLOUD
NESTED = PROFILE == OVERCLOUD
OVERCLOUD_PREFIX = "oc-"
_NAME = OVERCLOUD_PREFIX if NESTED else ""

KVM_COMPUTES = (f"{_NAME}kvm-1", f"{_NAME}kvm-2")
# VMware computes and the vCenter cluster each one fronts: several nova-computes, several clusters, each
# cluster one big hypervisor (the architecture's "one nova-compute per cluster").
CLUSTERS = {"vmware-1": "sp-cluster-1", "vmware-2": "sp-cluster-2"}
VMWARE_COMPUTES = {} if NESTED else CLUSTERS
# Parts of the lab a profile has: the VMware side (the lab vCenter, its computes, cinder's VMDK backend) and
# Block Storage (the storage host, cinder).
VMWARE = bool(VMWARE_COMPUTES)
BLOCK_STORAGE = not NESTED
# A second nova-compute configured for vmware-1's cluster, started only by the fault
# vmware-cluster-fronted-twice. It runs on the controller with a nova.conf of its own: a compute
# the target's inventory does not describe.
TWIN_COMPUTE = "vmware-1-twin"
CONTROLLER = f"{_NAME}controller"
# In an overcloud, a second nova-scheduler started only by the fault overcloud-scheduler-beside-compute, on the
# compute that shares its undercloud host with the controller (nested.py places hosts round-robin).
TWIN_SCHEDULER = "nova-scheduler-twin"
# A host's sshd. An overcloud host shares its instance's network namespace with the instance's own guest, whose
# sshd (its image's, the undercloud's data plane) keeps port 22: the host's listens beside it.
SSH_PORT = 2222 if NESTED else 22
STORAGE = "storage"
CINDER_HOST = "lab-storage"  # cinder's [DEFAULT] host: its services are <host>@<backend>
CINDER_BACKEND = "lab-kvm"  # NFS volumes, for KVM servers
VMDK_BACKEND = "lab-vmdk"  # cinder's own VMwareVcVmdkDriver against the lab vCenter, for VMware servers
AVAILABILITY_ZONES = {"kvm": "az-kvm", "vmware": "az-vmware"}
# An overcloud's control services carry their host's own name, the name of the undercloud server it is (as a
# nested deployment's do): SP-NEST-003 finds the overcloud's controllers among the undercloud's servers by it.
NOVA_CONTROLLER_HOST = CONTROLLER if NESTED else "lab-controller"  # nova's [DEFAULT] host of the control plane services
# The NSX edge: routers (Tier-1 gateways) with NAT. The controller plays it (the lab keeps one host per
# role it checks; nothing checks an edge node apart), a transport node of the overlay like the computes.
EDGE = CONTROLLER


@dataclass(frozen=True)
class Host:
    """One lab host: its name (hostname, ssh name, nova's host for computes), its target roles, the
    service families whose files sit at production paths in it (/etc/<family>, /var/log/<family>,
    /var/lib/<family>), and its place on the networks."""

    name: str
    short: str  # for link names (15 characters at most)
    index: int  # its address on the management subnet: address 2 + index (the controller is 0)
    roles: tuple[str, ...]
    families: tuple[str, ...]
    data_index: int | None = None  # address on the storage subnet (computes): .21 + data_index
    tep_index: int | None = None  # a transport node of the overlay: its TEP is address 1 + tep_index

    def netns(self, layout: Layout) -> str:
        return f"{lab_id(layout)}-{self.name}"

    def veth(self, layout: Layout) -> str:
        """The root-namespace end of its management link (a port of the management bridge)."""
        return f"{lab_id(layout)}-{self.short}"

    def address(self, layout: Layout) -> str:
        return layout.mgmt_address(2 + self.index)

    def data_address(self) -> str | None:
        if self.data_index is None:
            return None
        return str(STORAGE_SUBNET.network_address + 21 + self.data_index)

    def tep_address(self) -> str | None:
        if self.tep_index is None:
            return None
        return str(TEP_SUBNET.network_address + 1 + self.tep_index)

    def tunnel_address(self, layout: Layout) -> str | None:
        """Where its overlay tunnels end: its TEP, or in a nested lab its management address (the instance's
        only NIC, on the undercloud's tenant network)."""
        if self.tep_index is None:
            return None
        return self.address(layout) if NESTED else self.tep_address()

    def tep_link(self, layout: Layout) -> str:
        """The root-namespace end of its TEP link (a port of the transport bridge)."""
        return f"{lab_id(layout)}-t{self.short}"

    def root(self, layout: Layout) -> Path:
        """Where its files live in the lab state dir."""
        return layout.state / "hosts" / self.name

    def local(self, layout: Layout, path: str) -> Path:
        """The state-dir file behind a production path of this host (/etc/nova/nova.conf -> ...)."""
        for top, sub in (("/etc/", "etc"), ("/var/log/", "log"), ("/var/lib/", "lib"), ("/srv/", "srv")):
            if path.startswith(top):
                return self.root(layout) / sub / path[len(top):]
        raise ValueError(f"{path} is not under a directory the lab maps into {self.name}")

    def mounts(self, layout: Layout) -> list[tuple[str, str]]:
        """(state-dir source, production path) bind mounts of its mount namespace."""
        root = self.root(layout)
        binds = []
        for family in self.families:
            binds += [(str(root / "etc" / family), f"/etc/{family}"),
                      (str(root / "log" / family), f"/var/log/{family}"),
                      (str(root / "lib" / family), f"/var/lib/{family}")]
        if STORAGE in self.roles:
            binds.append((str(root / "srv"), "/srv"))
        binds.append((str(root / "sbin"), "/usr/local/sbin"))
        binds.append((str(layout.state / "hosts" / "hosts"), "/etc/hosts"))
        return binds


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def with_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts if role in h.roles]

    @property
    def computes(self) -> list[Host]:
        return [h for h in self.hosts if h.data_index is not None]

    @property
    def transport_nodes(self) -> list[Host]:
        return [h for h in self.hosts if h.tep_index is not None]


CONTROL_FAMILIES = ("keystone", "glance", "placement", "nova", "neutron", "cinder", "mysql", "rabbitmq", "vcenter",
                    "nsx")

TOPOLOGY = Topology((
    Host(CONTROLLER, "ctl", 0, ("controller", "scheduler"),
         tuple(f for f in CONTROL_FAMILIES if (VMWARE or f != "vcenter") and (BLOCK_STORAGE or f != "cinder")),
         tep_index=len(KVM_COMPUTES) + len(VMWARE_COMPUTES)),
    *((Host(STORAGE, "sto", 1, ("storage",), ("cinder", "ganesha")),) if BLOCK_STORAGE else ()),
    # A KVM transport node has Open vSwitch: NSX's nsx-managed bridge, which nova plugs taps into.
    *(Host(name, f"k{i + 1}", 2 + i, ("compute-kvm",), ("nova", "nsx", "openvswitch"),
           data_index=None if NESTED else i, tep_index=i)
      for i, name in enumerate(KVM_COMPUTES)),
    # The VMware computes stand in for their clusters' ESXi hosts on the overlay: a VMware instance's port
    # is plugged on the transport node of the compute that runs it.
    *(Host(name, f"v{i + 1}", 2 + len(KVM_COMPUTES) + i, ("compute-vmware",), ("nova", "nsx"),
           data_index=len(KVM_COMPUTES) + i, tep_index=len(KVM_COMPUTES) + i)
      for i, name in enumerate(VMWARE_COMPUTES)),
))


def lab_id(layout: Layout) -> str:
    """The prefix of every network name this lab makes in the root namespace."""
    return f"sp{layout.port_base}"


def mgmt_network(layout: Layout) -> ipaddress.IPv4Network:
    return layout.mgmt_network


def runner_address(layout: Layout) -> str:
    """The root namespace's address on the management bridge (where the suites run)."""
    return layout.mgmt_address(1)


def bridge(layout: Layout) -> str:
    return f"{lab_id(layout)}-mgmt"


def tep_bridge(layout: Layout) -> str:
    """The transport network's bridge in the root namespace (no address: nothing routed)."""
    return f"{lab_id(layout)}-tep"


def external_bridge(layout: Layout) -> str:
    """The external network's bridge in the root namespace; the runner's address on it is its gateway."""
    return f"{lab_id(layout)}-ext"


def external_uplink(layout: Layout) -> str:
    """The root-namespace end of the edge's uplink to the external network."""
    return f"{lab_id(layout)}-x{TOPOLOGY.get(EDGE).short}"


def external_gateway(layout: Layout) -> str:
    """The runner's address on the external network: the external subnet's gateway."""
    return str(layout.external_network.network_address + 1)


def hosts_file(layout: Layout) -> str:
    """/etc/hosts of every lab host: the lab's names on the management network."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             f"{runner_address(layout)}\trunner"]
    lines += [f"{h.address(layout)}\t{h.name}" + ("\tvcenter" if h.name == CONTROLLER else "")
              for h in TOPOLOGY.hosts]
    lines.append(f"{STORAGE_SERVER}\tstorage-data")
    return "# Written by the stackproof lab\n" + "\n".join(lines) + "\n"
