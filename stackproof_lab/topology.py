"""The lab's hosts, networks and what runs where, as data.

Every role of the lab is a Linux host of its own (network, mount, PID and UTS namespaces, an sshd): a
controller with the control plane, a storage host with cinder-volume and the NFS server of the KVM
backend, two KVM computes and two VMware computes. The management network is a bridge in the root
namespace (the runner, where the suites run, is its first address); the storage network is a bridge
inside the storage host, and every compute has its own data NIC on it.

Addresses come from documentation ranges (RFC 5737). The management subnet is a /27 of 198.51.100.128/25
chosen by the port base (layout.py), so that labs with different port bases coexist on one machine; the
storage subnet (203.0.113.0/24) lives only inside the lab's namespaces: in the root namespace that range
holds the machine's package registries, which no lab host needs. Names of network namespaces, bridges and links carry
the lab id (``sp<port base>``) for the same reason.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from stackproof_lab.layout import Layout

STORAGE_SUBNET = ipaddress.ip_network("203.0.113.0/24")
STORAGE_SERVER = ipaddress.ip_address("203.0.113.10")  # the storage host's address on the storage bridge
DATA_NIC = "spdata0"
DATA_MTU = 9000
MGMT_NIC = "eth0"
STORAGE_BRIDGE = "br-storage"  # inside the storage host

KVM_COMPUTES = ("kvm-1", "kvm-2")
# VMware computes and the vCenter cluster each one fronts: several nova-computes, several clusters, each
# cluster one big hypervisor (the architecture's "one nova-compute per cluster").
VMWARE_COMPUTES = {"vmware-1": "sp-cluster-1", "vmware-2": "sp-cluster-2"}
# A second nova-compute configured for vmware-1's cluster, started only by the fault
# vmware-cluster-fronted-twice. It runs on the controller with a nova.conf of its own: a compute
# the target's inventory does not describe.
TWIN_COMPUTE = "vmware-1-twin"
CONTROLLER = "controller"
STORAGE = "storage"
CINDER_HOST = "lab-storage"  # cinder's [DEFAULT] host: its services are <host>@<backend>
CINDER_BACKEND = "lab-kvm"  # NFS volumes, for KVM servers
VMDK_BACKEND = "lab-vmdk"  # cinder's own VMwareVcVmdkDriver against the lab vCenter, for VMware servers
# One availability zone per hypervisor family (= per aggregate) and the volume backend of that family in the
# same zone. With nova's [cinder] cross_az_attach=False a volume-backed server is scheduled into its volume's
# zone (nova.compute.api._validate_vol_az_for_create), so an NFS volume never lands on a VMware compute (whose
# driver has no NFS handler) nor a VMDK volume on KVM. Neither zone is "nova": nova does not pin a server to
# a volume zone equal to its own default_availability_zone.
AVAILABILITY_ZONES = {"kvm": "az-kvm", "vmware": "az-vmware"}
NOVA_CONTROLLER_HOST = "lab-controller"  # nova's [DEFAULT] host of the control plane services


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


CONTROL_FAMILIES = ("keystone", "glance", "placement", "nova", "neutron", "cinder", "mysql", "rabbitmq", "vcenter")

TOPOLOGY = Topology((
    Host(CONTROLLER, "ctl", 0, ("controller", "scheduler"), CONTROL_FAMILIES),
    Host(STORAGE, "sto", 1, ("storage",), ("cinder", "ganesha")),
    *(Host(name, f"k{i + 1}", 2 + i, ("compute-kvm",), ("nova",), data_index=i)
      for i, name in enumerate(KVM_COMPUTES)),
    *(Host(name, f"v{i + 1}", 2 + len(KVM_COMPUTES) + i, ("compute-vmware",), ("nova",),
           data_index=len(KVM_COMPUTES) + i)
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


def hosts_file(layout: Layout) -> str:
    """/etc/hosts of every lab host: the lab's names on the management network."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             f"{runner_address(layout)}\trunner"]
    lines += [f"{h.address(layout)}\t{h.name}" + ("\tvcenter" if h.name == CONTROLLER else "")
              for h in TOPOLOGY.hosts]
    lines.append(f"{STORAGE_SERVER}\tstorage-data")
    return "# Written by the stackproof lab\n" + "\n".join(lines) + "\n"
