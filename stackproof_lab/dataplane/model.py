"""The lab's data plane as plain data: what the realizer makes real on the transport nodes.

Built from the cloud by ``cloud.py`` (the desired state), rendered by ``render.py`` (shell and nftables text),
applied by ``realizer.py``. Nothing here talks to a cloud or a kernel.

The security model (``Rule``, ``PortFilter``) is deliberately neutral: rules per port, with remote groups
already resolved to addresses. Today it is filled from Neutron's security groups; an NSX manager's security
policies (groups resolved to addresses, rules per segment port) fill the same model and need no other
renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METADATA_ADDRESS = "169.254.169.254"


def _short(resource_id: str) -> str:
    return resource_id[:11]


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    gateway: str | None
    dhcp: bool
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)


@dataclass(frozen=True)
class Segment:
    """A Neutron network as an overlay segment: a VXLAN id, a conntrack zone, a bridge on each node."""

    network_id: str
    name: str
    vni: int
    zone: int
    mtu: int
    subnets: tuple[Subnet, ...] = ()

    @property
    def bridge(self) -> str:
        return f"brq{_short(self.network_id)}"

    @property
    def vxlan(self) -> str:
        return f"vxlan-{self.vni}"


@dataclass(frozen=True)
class Nic:
    """A Neutron port plugged on a transport node: its tap there, its MAC and addresses (ip/prefix)."""

    port_id: str
    network_id: str
    mac: str
    addresses: tuple[str, ...]
    mtu: int

    @property
    def tap(self) -> str:
        return f"tap{_short(self.port_id)}"

    def ips(self) -> tuple[str, ...]:
        return tuple(a.split("/")[0] for a in self.addresses)


@dataclass(frozen=True)
class Instance:
    """A running server: a network namespace named as nova names the guest, on the node of its compute."""

    server_id: str
    name: str  # nova's instance name (instance-0000000a): the namespace's name on the compute host
    hostname: str  # the server's name, its hostname inside
    host: str  # the lab host of its compute (kvm-1, vmware-2)
    nics: tuple[Nic, ...]


@dataclass(frozen=True)
class DhcpHost:
    mac: str
    ip: str
    hostname: str


@dataclass(frozen=True)
class DhcpServer:
    """A network's DHCP server and metadata proxy address on the edge, as Neutron's DHCP agent runs it."""

    segment: Segment
    port: Nic
    hosts: tuple[DhcpHost, ...]
    held: bool = False  # a fault keeps it stopped

    @property
    def namespace(self) -> str:
        return f"qdhcp-{self.segment.network_id}"

    @property
    def inner(self) -> str:
        return f"ns-{_short(self.port.port_id)}"


@dataclass(frozen=True)
class FloatingIp:
    address: str
    fixed: str


@dataclass(frozen=True)
class Router:
    """A router (an NSX Tier-1 gateway): a namespace on the edge, NAT to and from the external network."""

    router_id: str
    gateway: Nic | None
    next_hop: str | None  # the external subnet's gateway
    interfaces: tuple[Nic, ...]
    snat: tuple[str, ...]  # internal CIDRs translated to the gateway address
    floating: tuple[FloatingIp, ...]
    held_floating: tuple[str, ...] = ()  # floating addresses whose NAT a fault keeps out

    @property
    def namespace(self) -> str:
        return f"qrouter-{self.router_id}"


@dataclass(frozen=True)
class Rule:
    """One allowed flow of a port, IPv4. ``remote``: None = any address; a tuple = exactly those
    addresses/prefixes (a remote group already resolved; empty = nobody)."""

    direction: str  # "ingress" | "egress"
    protocol: str | None = None  # None (any), "tcp", "udp", "icmp", or an IP protocol number as text
    port_min: int | None = None  # tcp/udp: destination ports; icmp: type
    port_max: int | None = None  # tcp/udp: last destination port; icmp: code
    remote: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PortFilter:
    """What may reach and leave one port: default deny both ways, these rules, return traffic of allowed
    flows (stateful). ``enforced`` False (port security off): no filtering at all."""

    port_id: str
    network_id: str
    mac: str
    addresses: tuple[str, ...]  # its fixed IPs and allowed address pairs (IPv4, prefixes allowed)
    enforced: bool
    rules: tuple[Rule, ...] = ()

    @property
    def tap(self) -> str:
        return f"tap{_short(self.port_id)}"


@dataclass(frozen=True)
class DataPlane:
    """The whole desired state."""

    segments: dict[str, Segment] = field(default_factory=dict)  # by network id (overlay networks only)
    instances: dict[str, Instance] = field(default_factory=dict)  # by server id
    dhcp: dict[str, DhcpServer] = field(default_factory=dict)  # by network id
    routers: dict[str, Router] = field(default_factory=dict)  # by router id
    filters: dict[str, PortFilter] = field(default_factory=dict)  # by port id (instance ports)
    notes: tuple[str, ...] = ()  # what the cloud asks for that the lab does not realize, and why

    def nics_on(self, host: str) -> list[Nic]:
        return [nic for instance in self.instances.values() if instance.host == host for nic in instance.nics]

    def filters_on(self, host: str) -> list[PortFilter]:
        ports = {nic.port_id for nic in self.nics_on(host)}
        return [f for port_id, f in sorted(self.filters.items()) if port_id in ports]
