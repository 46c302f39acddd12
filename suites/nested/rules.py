"""What the nested checks decide, as functions of facts read from the two clouds (nodes.py): each returns one
line per problem, so that a check lists every offender at once and the engine's tests can show each rule
turning red on exactly the fact that breaks it.

Terms: the *undercloud* is the cloud whose servers are the *overcloud*'s nodes; an overcloud node is found
by address (an overcloud hypervisor's host_ip is an address of the undercloud server it runs on) or by name
(an overcloud service host is the undercloud server's hostname).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 (neutron's VXLAN_ENCAP_OVERHEAD is 30 + 20)
IP_HEADER = 20  # neutron adds the IPv4 header to an overlay's own overhead (plugins/ml2/drivers/type_tunnel.py)
NESTED_CPU_FLAGS = ("vmx", "svm")  # Intel VT-x, AMD-V


@dataclass(frozen=True)
class UnderServer:
    """An undercloud server as its admin sees it."""

    id: str
    name: str
    hostname: str  # OS-EXT-SRV-ATTR:hostname
    status: str
    host_status: str  # UP, DOWN, MAINTENANCE, UNKNOWN, or "" when the API does not say (microversion < 2.16)
    compute_host: str  # the undercloud nova-compute it runs on
    addresses: frozenset[str]  # fixed and floating

    @property
    def label(self) -> str:
        return f"undercloud server {self.name} ({self.id})"


@dataclass(frozen=True)
class Endpoint:
    service: str
    url: str
    addresses: tuple[str, ...]  # what its host resolves to from the runner ("" when it does not resolve)


@dataclass(frozen=True)
class Trunk:
    id: str
    parent_port: str
    vlans: frozenset[int]  # segmentation ids of its vlan sub-ports
    subports: frozenset[str] = frozenset()  # their port ids


@dataclass(frozen=True)
class UnderPort:
    id: str
    network: str  # id
    device: str  # server id
    port_security: bool
    addresses: frozenset[str] = frozenset()  # its fixed IPs


@dataclass(frozen=True)
class OverNetwork:
    id: str
    name: str
    mtu: int
    segments: tuple[tuple[str, int | None], ...]  # (network_type, segmentation_id) of each segment


@dataclass
class Nodes:
    """Overcloud nodes found in the undercloud: node name (as the overcloud calls it) -> server."""

    found: dict[str, UnderServer] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # nodes no undercloud server could be found for
    unwell: list[str] = field(default_factory=list)  # found, but not ACTIVE on a host that is UP

    @property
    def problems(self) -> list[str]:
        return self.unmatched + self.unwell


def internal_networks(subnets: Iterable[tuple[str, bool]]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The CIDRs of undercloud subnets on networks that are not external: addresses the runner is not meant
    to reach an overcloud through."""
    return [ipaddress.ip_network(cidr, strict=False) for cidr, external in subnets if not external]


def endpoint_problems(endpoints: Iterable[Endpoint], internal: list, answers: Mapping[str, int | str]) -> list[str]:
    """NEST-1: each endpoint answers below 500 from the runner, on no undercloud-internal address. `answers`
    maps a URL to its HTTP status, or to why no answer came."""
    problems = []
    for endpoint in endpoints:
        inside = [a for a in endpoint.addresses if a and any(ipaddress.ip_address(a) in net for net in internal)]
        if inside:
            problems.append(f"{endpoint.service} {endpoint.url}: on {', '.join(inside)}, an undercloud-internal "
                            "address (a tenant subnet of the undercloud)")
        if not any(endpoint.addresses):
            problems.append(f"{endpoint.service} {endpoint.url}: its host does not resolve from the runner")
        answer = answers.get(endpoint.url, "not asked")
        if not isinstance(answer, int) or answer >= 500:
            problems.append(f"{endpoint.service} {endpoint.url}: " + (f"HTTP {answer}" if isinstance(answer, int)
                                                                        else str(answer)))
    return problems


def by_address(servers: Iterable[UnderServer]) -> dict[str, list[UnderServer]]:
    owners: dict[str, list[UnderServer]] = {}
    for server in servers:
        for address in server.addresses:
            owners.setdefault(address, []).append(server)
    return owners


def short_name(host: str) -> str:
    return host.split(".", 1)[0].lower()


def by_name(servers: Iterable[UnderServer]) -> dict[str, list[UnderServer]]:
    """Undercloud servers by the names an overcloud service host may carry: its hostname or its server name."""
    owners: dict[str, list[UnderServer]] = {}
    for server in servers:
        for name in {short_name(server.hostname), short_name(server.name)} - {""}:
            owners.setdefault(name, []).append(server)
    return owners


def hypervisor_nodes(hypervisors: Iterable[tuple[str, str]], servers: list[UnderServer]) -> Nodes:
    """NEST-2: each overcloud hypervisor (name, host_ip) runs on exactly one undercloud server, ACTIVE on an
    undercloud host that is UP."""
    owners, nodes = by_address(servers), Nodes()
    for name, host_ip in hypervisors:
        matches = owners.get(host_ip, [])
        if len(matches) != 1:
            nodes.unmatched.append(f"overcloud hypervisor {name} (host_ip {host_ip}): "
                                   + ("no undercloud server has that address" if not matches else
                                      "several undercloud servers have it: " + ", ".join(s.label for s in matches)))
            continue
        server = matches[0]
        nodes.found[name] = server
        if server.status != "ACTIVE" or server.host_status != "UP":
            nodes.unwell.append(f"overcloud hypervisor {name}: {server.label} is {server.status} on undercloud "
                                f"host {server.compute_host or '?'} (host_status {server.host_status or 'not shown'})")
    return nodes


def controller_nodes(controllers: Iterable[str], servers: list[UnderServer]) -> Nodes:
    """The undercloud server of each overcloud controller (a host running overcloud control services)."""
    owners, nodes = by_name(servers), Nodes()
    for host in sorted(set(controllers)):
        matches = owners.get(short_name(host), [])
        if len(matches) != 1:
            nodes.unmatched.append(f"overcloud controller {host}: " + (
                "no undercloud server has that hostname or name" if not matches else
                "several undercloud servers carry that name: " + ", ".join(s.label for s in matches)))
            continue
        nodes.found[host] = matches[0]
    return nodes


def shared_host_problems(controllers: Mapping[str, UnderServer]) -> list[str]:
    """NEST-3: no two overcloud controllers on one undercloud host."""
    on: dict[str, list[str]] = {}
    for name, server in sorted(controllers.items()):
        if not server.compute_host:
            return [f"overcloud controller {name}: the undercloud does not say which host runs {server.label} "
                    "(OS-EXT-SRV-ATTR:host needs an admin account)"]
        on.setdefault(server.compute_host, []).append(f"{name} ({server.label})")
    return [f"undercloud host {host} runs {len(names)} overcloud controllers: {', '.join(names)}"
            for host, names in sorted(on.items()) if len(names) > 1]


def overlay_overhead(network_type: str, geneve_max_header_size: int) -> int | None:
    """Bytes an overcloud overlay network adds to each packet on the undercloud (None: not an overlay)."""
    if network_type == "vxlan":
        return VXLAN_OVERHEAD
    if network_type == "geneve":
        return geneve_max_header_size + IP_HEADER
    return None


def vlan_carriage_problems(vlans: Mapping[int, str], nodes: Mapping[str, UnderServer],
                           trunks: Iterable[Trunk], ports: Iterable[UnderPort],
                           transparent: Iterable[str]) -> list[str]:
    """NEST-4, vlan mode: every overcloud node carries every overcloud VLAN (id -> network) on a trunk of its
    own (a sub-port with that segmentation id) or sits on a vlan-transparent undercloud network."""
    ports_of: dict[str, set[str]] = {}
    networks_of: dict[str, set[str]] = {}
    for port in ports:
        ports_of.setdefault(port.device, set()).add(port.id)
        networks_of.setdefault(port.device, set()).add(port.network)
    trunks = list(trunks)
    clear = set(transparent)
    problems = []
    for name, server in sorted(nodes.items()):
        if networks_of.get(server.id, set()) & clear:
            continue
        carried = set().union(*(t.vlans for t in trunks if t.parent_port in ports_of.get(server.id, set())))
        missing = sorted(set(vlans) - carried)
        if missing:
            problems.append(f"overcloud node {name} ({server.label}): no trunk sub-port for VLAN "
                            + ", ".join(f"{vid} ({vlans[vid]})" for vid in missing)
                            + f"; its trunks carry {sorted(carried) or 'none'}")
    return problems


def overlay_mtu_problems(overlays: Iterable[OverNetwork], carriers: Mapping[str, tuple[str, int]],
                         geneve_max_header_size: int) -> list[str]:
    """NEST-4, overlay mode: each undercloud network that carries overcloud tunnels (id -> (name, mtu)) fits
    every overcloud overlay network's MTU plus its encapsulation."""
    problems = []
    for network in overlays:
        for network_type, _segment in network.segments:
            overhead = overlay_overhead(network_type, geneve_max_header_size)
            if overhead is None:
                continue
            for carrier, (carrier_name, mtu) in sorted(carriers.items()):
                if mtu < network.mtu + overhead:
                    problems.append(f"undercloud network {carrier_name} ({carrier}) MTU {mtu} < overcloud "
                                    f"{network_type} network {network.name} ({network.id}) MTU {network.mtu} + "
                                    f"{overhead} = {network.mtu + overhead}")
    return problems


def port_security_problems(ports: Iterable[UnderPort], why: Mapping[str, str]) -> list[str]:
    """NEST-5: undercloud ports that bridge overcloud networks (port id -> why it bridges) have port security
    off."""
    return [f"undercloud port {port.id} ({why[port.id]}): port security is on" for port in ports
            if port.id in why and port.port_security]


def nested_cpu_problems(nested_param: str | None, cpu_mode: str, extra_flags: str) -> list[str]:
    """NEST-6 on one undercloud compute: the kvm module lets guests nest (parameter `nested` Y or 1) and the
    guest CPU keeps vmx/svm (host-passthrough, or host-model/custom with the flag added)."""
    problems = []
    if nested_param is None:
        problems.append("no /sys/module/kvm_intel or kvm_amd parameters/nested (no KVM module that nests)")
    elif nested_param.strip() not in ("Y", "1"):
        problems.append(f"kvm nested={nested_param.strip()!r}")
    flags = {f.strip().lstrip("+").lower() for f in extra_flags.split(",")}
    if cpu_mode != "host-passthrough" and not flags & set(NESTED_CPU_FLAGS):
        problems.append(f"[libvirt] cpu_mode={cpu_mode or '(unset)'} and "
                        f"cpu_model_extra_flags={extra_flags or '(unset)'}: the guest CPU has no vmx/svm")
    return problems


def virt_type_problems(virt_type: str, has_dev_kvm: bool, cpu_flags: Iterable[str]) -> list[str]:
    """NEST-7 on one overcloud compute: virt_type kvm only with /dev/kvm and vmx/svm; qemu anywhere."""
    if virt_type == "qemu":
        return []
    if virt_type != "kvm":
        return [f"[libvirt] virt_type={virt_type!r}: neither kvm nor qemu"]
    lacks = ([] if has_dev_kvm else ["/dev/kvm"]) + ([] if set(cpu_flags) & set(NESTED_CPU_FLAGS) else ["vmx/svm"])
    return [f"[libvirt] virt_type=kvm without {' and '.join(lacks)}: every boot fails"] if lacks else []
