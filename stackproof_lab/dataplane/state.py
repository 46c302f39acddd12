"""What one transport node must make real, as plain data, and how it is read from the cloud.

A node learns from two places, as an NSX transport node does: the NSX manager (which segments are realized and
their VNIs, which VIFs have a realized segment port, the distributed firewall rules of each VIF) and the cloud's
port bindings (which VIFs live on this node, with which MAC and addresses: what the hypervisor and DHCP give the
guest). A VIF whose segment or segment port NSX has not realized gets no link: as on a real cloud, it has no
network. The edge (the controller) also makes the routers: Tier-1 gateways with NAT for SNAT and floating IPs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from stackproof_lab.errors import LabError

COMPUTE_OWNER = "compute:"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"


def short(resource_id: str) -> str:
    """The 11 characters of an id that name its devices, as nova and neutron name taps and router ports."""
    return resource_id[:11]


@dataclass(frozen=True)
class Vif:
    """An instance's port on this node: the guest's NIC (MAC, addresses, default gateway) on segment ``vni``."""

    port_id: str
    mac: str
    addresses: tuple[str, ...]  # ip/prefix
    gateway: str | None
    vni: int
    mtu: int
    firewall: tuple[dict[str, Any], ...] | None  # NSX's rules for it, in order; None: no firewall (port security off)
    authorized_key: str | None = None  # the server's key pair (what cloud-init puts in the guest from metadata)

    @property
    def namespace(self) -> str:
        return f"vm-{short(self.port_id)}"

    @property
    def tap(self) -> str:
        return f"tap{short(self.port_id)}"

    def describe(self) -> str:
        """One line for the agent's log: what a guest of this VIF has."""
        rules = "no firewall" if self.firewall is None else f"{len(self.firewall)} firewall rule(s)"
        return (f"{self.namespace} {self.mac} {' '.join(self.addresses)} on segment {self.vni}, {rules}, "
                f"{'a guest login' if self.authorized_key else 'no guest login'}")


@dataclass(frozen=True)
class RouterPort:
    port_id: str
    mac: str
    address: str  # ip/prefix
    vni: int | None  # None: the external network (br-ex)

    def device(self, prefix: str) -> str:
        """Its device named as neutron's L3 agent names them: qr-/qg- inside the router, rq-/rg- their peers."""
        return f"{prefix}{short(self.port_id)}"


@dataclass(frozen=True)
class Router:
    """A Tier-1 gateway on the edge: interfaces on segments, a gateway on the external network, NAT."""

    router_id: str
    interfaces: tuple[RouterPort, ...]
    gateway: RouterPort | None
    next_hop: str | None
    snat: tuple[str, ...]  # internal CIDRs translated to the gateway's address
    floating: tuple[tuple[str, str], ...]  # (floating address, fixed address)

    @property
    def namespace(self) -> str:
        return f"qrouter-{self.router_id}"

    @property
    def gateway_device(self) -> str | None:
        return self.gateway.device("qg-") if self.gateway else None

    def describe(self) -> str:
        """One line for the agent's log: where the router's ports are and what it translates."""
        inside = ", ".join(f"{p.address} on segment {p.vni}" for p in self.interfaces) or "no interface"
        outside = f"gateway {self.gateway.address}" if self.gateway else "no gateway"
        floating = ", ".join(f"{f}->{fixed}" for f, fixed in self.floating) or "none"
        return f"{self.namespace}: {inside}; {outside}; floating IPs {floating}"

    @property
    def outer_links(self) -> tuple[str, ...]:
        """The node's ends of its ports' veths: rq- on segment bridges, rg- on br-ex."""
        return tuple(p.device("rq-") for p in self.interfaces) + ((self.gateway.device("rg-"),) if self.gateway else ())


@dataclass(frozen=True)
class NodeState:
    vnis: frozenset[int] = frozenset()  # segments this node carries
    vifs: tuple[Vif, ...] = ()
    routers: tuple[Router, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)  # what the cloud asks for and this node leaves out


def _prefixlen(cidr: str) -> int:
    return ipaddress.ip_network(cidr).prefixlen


def _listed(answer: Any, key: str) -> list[dict[str, Any]]:
    return list((answer or {}).get(key) or [])


def server_key(cloud: Any, server_id: str) -> str | None:
    """The public key of a server's key pair, as nova's metadata serves it to the guest (None: no key pair, or the
    server or its key pair is gone, as a port can outlive its server for a while). LabError: nova did not say."""
    server = (cloud.call("compute", "GET", f"/servers/{server_id}", ok=(200, 404)) or {}).get("server") or {}
    if not server.get("key_name"):
        return None
    keypair = cloud.call("compute", "GET", f"/os-keypairs/{server['key_name']}?user_id={server['user_id']}",
                         ok=(200, 404))
    return ((keypair or {}).get("keypair") or {}).get("public_key")


def read(neutron: Any, nsx: Any, node: str, *, edge: bool, enforce: bool = True,
         keys: dict[str, str | None] | None = None) -> NodeState:
    """The desired state of ``node`` (a nova host name) from Neutron (``rest.Cloud``) and NSX (``NsxApi``).
    ``enforce`` False (a lab fault): the node ignores the firewall rules NSX gives it. ``keys``: servers' public
    keys already read, by server id (a server's key pair never changes), filled as servers appear."""
    keys = {} if keys is None else keys
    ports = [p for p in _listed(neutron.call("network", "GET", f"/ports?binding:host_id={node}"), "ports")
             if (p.get("device_owner") or "").startswith(COMPUTE_OWNER)]
    routers = _listed(neutron.call("network", "GET", "/routers"), "routers") if edge else []
    if not ports and not routers:
        return NodeState()  # an idle node reads nothing more: five agents polling stay cheap
    switches = {}
    for switch in _listed(nsx.call("GET", "/api/v1/logical-switches"), "results"):
        for tag in switch.get("tags") or []:
            if tag.get("scope") == "policyPath" and switch.get("vni"):
                switches[tag["tag"].rsplit("/", 1)[-1]] = int(switch["vni"])
    firewall = {entry["port"]: entry for entry in _listed(nsx.call("GET", "/api/v1/lab/vif-firewall"), "results")}
    subnets = {s["id"]: s for s in _listed(neutron.call("network", "GET", "/subnets"), "subnets")}
    networks = {n["id"]: n for n in _listed(neutron.call("network", "GET", "/networks"), "networks")}
    notes: list[str] = []
    vifs = []
    for port in ports:
        if not port.get("admin_state_up", True):
            notes.append(f"port {port['id']}: administratively down; not plugged")
            continue
        realized = firewall.get(port["id"])
        vni = switches.get(port["network_id"])
        if realized is None or vni is None:
            notes.append(f"port {port['id']}: no realized segment port or segment in NSX; not plugged")
            continue
        if port.get("device_id") and port["device_id"] not in keys:
            try:
                keys[port["device_id"]] = server_key(neutron, port["device_id"])
            except LabError as exc:  # this VIF waits for nova; the node's other VIFs and routers do not
                notes.append(f"port {port['id']}: key pair of server {port['device_id']} unreadable ({exc}); "
                             "plugged once nova answers")
                continue
        fixed = [(ip["ip_address"], subnets.get(ip["subnet_id"])) for ip in port.get("fixed_ips") or []]
        v4 = [(ip, s) for ip, s in fixed if s and s.get("ip_version") == 4]
        vifs.append(Vif(
            port_id=port["id"], mac=port["mac_address"],
            addresses=tuple(f"{ip}/{_prefixlen(s['cidr'])}" for ip, s in v4),
            gateway=next((s.get("gateway_ip") for _, s in v4 if s.get("gateway_ip")), None), vni=vni,
            mtu=int(networks.get(port["network_id"], {}).get("mtu") or 1500),
            firewall=tuple(realized["rules"]) if enforce and port.get("port_security_enabled", True) else None,
            authorized_key=keys.get(port.get("device_id") or "")))
    made = _routers(neutron, routers, subnets, switches, notes)
    vnis = {v.vni for v in vifs} | {i.vni for r in made for i in r.interfaces if i.vni is not None}
    return NodeState(frozenset(vnis), tuple(sorted(vifs, key=lambda v: v.port_id)), made, tuple(notes))


def _routers(neutron: Any, routers: list[dict[str, Any]], subnets: dict[str, Any], switches: dict[str, int],
             notes: list[str]) -> tuple[Router, ...]:
    if not routers:
        return ()
    ports = _listed(neutron.call("network", "GET", "/ports?device_owner=" + ROUTER_INTERFACE), "ports")
    ports += _listed(neutron.call("network", "GET", "/ports?device_owner=" + ROUTER_GATEWAY), "ports")
    floating = _listed(neutron.call("network", "GET", "/floatingips"), "floatingips")
    result = []
    for router in routers:
        if not router.get("admin_state_up", True):
            continue
        mine = [p for p in ports if p.get("device_id") == router["id"]]
        interfaces, gateway, next_hop, snat = [], None, None, []
        for port in mine:
            for ip in port.get("fixed_ips") or []:
                subnet = subnets.get(ip["subnet_id"])
                if not subnet or subnet.get("ip_version") != 4:
                    continue
                address = f"{ip['ip_address']}/{_prefixlen(subnet['cidr'])}"
                if port["device_owner"] == ROUTER_GATEWAY:
                    gateway = RouterPort(port["id"], port["mac_address"], address, None)
                    next_hop = subnet.get("gateway_ip")
                elif port["network_id"] in switches:
                    vni = switches[port["network_id"]]
                    interfaces.append(RouterPort(port["id"], port["mac_address"], address, vni))
                    snat.append(subnet["cidr"])
                else:
                    notes.append(f"router {router['id']}: interface {port['id']} on a network NSX has not realized")
        enable_snat = (router.get("external_gateway_info") or {}).get("enable_snat", True)
        fips = tuple(sorted((f["floating_ip_address"], f["fixed_ip_address"]) for f in floating
                            if f.get("router_id") == router["id"] and f.get("fixed_ip_address")))
        result.append(Router(router["id"], tuple(sorted(interfaces, key=lambda i: i.port_id)), gateway, next_hop,
                             tuple(sorted(snat)) if enable_snat and gateway else (), fips if gateway else ()))
    return tuple(sorted(result, key=lambda r: r.router_id))
