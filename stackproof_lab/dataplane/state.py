"""What one transport node must make real, as plain data, and how it is read from the cloud.

A node learns from two places, as an NSX transport node does: the NSX manager (which segments are realized and
their VNIs, which VIFs have a realized segment port, the distributed firewall rules of each VIF) and the cloud's
port bindings (which VIFs live on this node, with which MAC). A VIF whose segment or segment port NSX has not
realized gets no link: as on a real cloud, it has no network. The guest learns its address from DHCP and its key
pair from the metadata service, as a cloud image does. The edge (the controller) serves both, and makes the
routers: Tier-1 gateways with NAT for SNAT and floating IPs. Its DHCP server for a network has the address of a
Neutron DHCP port, as the NSX plugin reserves one for a segment's DHCP server.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from stackproof_lab.errors import LabError

COMPUTE_OWNER = "compute:"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
DHCP_OWNER = "network:dhcp"
SUBPORT_OWNER = "trunk:subport"


def short(resource_id: str) -> str:
    """The 11 characters of an id that name its devices, as nova and neutron name taps and router ports."""
    return resource_id[:11]


@dataclass(frozen=True)
class Vif:
    """An instance's port on this node: the guest's NIC (MAC, addresses, default gateway) on segment ``vni``."""

    port_id: str
    mac: str
    addresses: tuple[str, ...]  # ip/prefix: what its guest should get from DHCP (for the log)
    vni: int
    mtu: int
    firewall: tuple[dict[str, Any], ...] | None  # NSX's rules for it, in order; None: no firewall (port security off)

    @property
    def namespace(self) -> str:
        return f"vm-{short(self.port_id)}"

    @property
    def tap(self) -> str:
        return f"tap{short(self.port_id)}"

    def describe(self) -> str:
        """One line for the agent's log: what a guest of this VIF has."""
        rules = "no firewall" if self.firewall is None else f"{len(self.firewall)} firewall rule(s)"
        return f"{self.namespace} {self.mac} {' '.join(self.addresses)} on segment {self.vni}, {rules}"


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
    # Neutron's extra routes (extraroute): (destination CIDR, next hop), e.g. a nested cloud's external subnet
    # behind its edge, an instance of this cloud.
    routes: tuple[tuple[str, str], ...] = ()

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
        routes = "".join(f"; route {destination} via {nexthop}" for destination, nexthop in self.routes)
        return f"{self.namespace}: {inside}; {outside}; floating IPs {floating}{routes}"

    @property
    def outer_links(self) -> tuple[str, ...]:
        """The node's ends of its ports' veths: rq- on segment bridges, rg- on br-ex."""
        return tuple(p.device("rq-") for p in self.interfaces) + ((self.gateway.device("rg-"),) if self.gateway else ())


@dataclass(frozen=True)
class DhcpServer:
    """A network's DHCP server and metadata proxy on the edge, with its Neutron DHCP port's MAC and address."""

    network_id: str
    port_id: str
    mac: str
    address: str  # ip/prefix
    gateway: str | None  # the subnet's gateway: the guests' default route
    vni: int
    mtu: int
    hosts: tuple[tuple[str, str], ...]  # (MAC, address) of each instance port of the network: static leases

    @property
    def namespace(self) -> str:
        return f"qdhcp-{self.network_id}"

    @property
    def outer(self) -> str:
        return f"dq-{short(self.port_id)}"

    @property
    def inner(self) -> str:
        return f"ns-{short(self.port_id)}"

    def describe(self) -> str:
        return (f"{self.namespace}: {self.address} on segment {self.vni}, gateway {self.gateway or 'none'}, MTU "
                f"{self.mtu}, {len(self.hosts)} lease(s), metadata proxy")


@dataclass(frozen=True)
class NodeState:
    vnis: frozenset[int] = frozenset()  # segments this node carries
    vifs: tuple[Vif, ...] = ()
    routers: tuple[Router, ...] = ()
    dhcp: tuple[DhcpServer, ...] = ()
    # Networks whose instances need a DHCP server that has no Neutron DHCP port yet: (network, subnet, project).
    dhcp_ports_wanted: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)  # what the cloud asks for and this node leaves out


def _prefixlen(cidr: str) -> int:
    return ipaddress.ip_network(cidr).prefixlen


def _listed(answer: Any, key: str) -> list[dict[str, Any]]:
    return list((answer or {}).get(key) or [])


def _instance_port(port: dict[str, Any]) -> bool:
    return (port.get("device_owner") or "").startswith(COMPUTE_OWNER)


def read(neutron: Any, nsx: Any, node: str, *, edge: bool, enforce: bool = True) -> NodeState:
    """The desired state of ``node`` (a nova host name) from Neutron (``rest.Cloud``) and NSX (``NsxApi``).
    ``enforce`` False (a lab fault): the node ignores the firewall rules NSX gives it."""
    if edge:  # the edge serves DHCP to every instance, wherever it runs
        every = _listed(neutron.call("network", "GET", "/ports"), "ports")
        ports = [p for p in every if _instance_port(p) and p.get("binding:host_id") == node]
        routers = _listed(neutron.call("network", "GET", "/routers"), "routers")
    else:
        every = _listed(neutron.call("network", "GET", f"/ports?binding:host_id={node}"), "ports")
        ports = [p for p in every if _instance_port(p)]
        routers = []
    if not any(_instance_port(p) for p in every) and not routers:
        return NodeState()  # an idle node reads nothing more: five agents polling stay cheap
    switches = {}
    for switch in _listed(nsx.call("GET", "/api/v1/logical-switches"), "results"):
        for tag in switch.get("tags") or []:
            if tag.get("scope") == "policyPath" and switch.get("vni"):
                switches[tag["tag"].rsplit("/", 1)[-1]] = int(switch["vni"])
    firewall = {entry["port"]: entry for entry in _listed(nsx.call("GET", "/api/v1/lab/vif-firewall"), "results")}
    subnets = {s["id"]: s for s in _listed(neutron.call("network", "GET", "/subnets"), "subnets")}
    networks = {n["id"]: n for n in _listed(neutron.call("network", "GET", "/networks"), "networks")}
    # A trunk's sub-port rides its parent's VIF tagged with its VLAN; this kernel has no 802.1Q (no VLAN devices,
    # no VLAN-filtering bridge, no tc vlan action), so the lab's data plane carries parents only, and says so.
    notes: list[str] = [f"sub-port {p['id']} of a trunk on this node: not carried (no 802.1Q in this kernel)"
                        for p in every if p.get("device_owner") == SUBPORT_OWNER and p.get("binding:host_id") == node]
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
        fixed = [(ip["ip_address"], subnets.get(ip["subnet_id"])) for ip in port.get("fixed_ips") or []]
        vifs.append(Vif(
            port_id=port["id"], mac=port["mac_address"],
            addresses=tuple(f"{ip}/{_prefixlen(s['cidr'])}" for ip, s in fixed if s and s.get("ip_version") == 4),
            vni=vni, mtu=_mtu(networks, port["network_id"]),
            firewall=tuple(realized["rules"]) if enforce and port.get("port_security_enabled", True) else None))
    made = _routers(neutron, routers, every, subnets, switches, notes)
    servers, wanted = _dhcp_servers(every, subnets, networks, switches, notes) if edge else ((), ())
    vnis = {v.vni for v in vifs} | {i.vni for r in made for i in r.interfaces if i.vni is not None} | {
        d.vni for d in servers}
    return NodeState(frozenset(vnis), tuple(sorted(vifs, key=lambda v: v.port_id)), made, servers, wanted,
                     tuple(notes))


def _mtu(networks: dict[str, Any], network_id: str) -> int:
    return int(networks.get(network_id, {}).get("mtu") or 1500)


def _dhcp_servers(every: list[dict[str, Any]], subnets: dict[str, Any], networks: dict[str, Any],
                  switches: dict[str, int], notes: list[str]
                  ) -> tuple[tuple[DhcpServer, ...], tuple[tuple[str, str, str], ...]]:
    """A DHCP server for each realized network with instances and a DHCP-enabled IPv4 subnet (its first), with a
    static lease per instance port; and the networks that still lack the Neutron DHCP port it takes its address
    from."""
    instances: dict[str, list[dict[str, Any]]] = {}
    for port in every:
        if _instance_port(port) and port.get("admin_state_up", True):
            instances.setdefault(port["network_id"], []).append(port)
    dhcp_ports = {p["network_id"]: p for p in every if p.get("device_owner") == DHCP_OWNER}
    servers, wanted = [], []
    for network_id, members in sorted(instances.items()):
        subnet = next((s for s in sorted(subnets.values(), key=lambda s: s["id"]) if s.get("network_id") == network_id
                       and s.get("ip_version") == 4 and s.get("enable_dhcp", True)), None)
        if subnet is None:
            continue  # no DHCP asked for: its guests get no address, as on a real cloud
        if network_id not in switches:
            notes.append(f"network {network_id}: no realized segment in NSX; no DHCP server")
            continue
        port = dhcp_ports.get(network_id)
        address = next((ip["ip_address"] for ip in (port or {}).get("fixed_ips") or []
                        if ip["subnet_id"] == subnet["id"]), None)
        if port is None or address is None:
            wanted.append((network_id, subnet["id"], subnet.get("project_id") or subnet.get("tenant_id") or ""))
            continue
        hosts = sorted({(p["mac_address"], ip["ip_address"]) for p in members for ip in p.get("fixed_ips") or []
                        if ip["subnet_id"] == subnet["id"]})
        servers.append(DhcpServer(network_id, port["id"], port["mac_address"],
                                  f"{address}/{_prefixlen(subnet['cidr'])}", subnet.get("gateway_ip"),
                                  switches[network_id], _mtu(networks, network_id), tuple(hosts)))
    return tuple(servers), tuple(wanted)


def reserve_dhcp_ports(neutron: Any, node: str, wanted: tuple[tuple[str, str, str], ...]) -> list[str]:
    """Create the Neutron DHCP ports ``wanted`` (as neutron's DHCP agent and the NSX plugin reserve one for a
    network's DHCP server), owned by the network's project; returns what failed (tried again next turn)."""
    problems = []
    for network_id, subnet_id, project_id in wanted:
        body = {"port": {"network_id": network_id, "device_owner": DHCP_OWNER, "device_id": f"dhcp-{node}-{network_id}",
                         "fixed_ips": [{"subnet_id": subnet_id}], "name": "",
                         **({"project_id": project_id} if project_id else {})}}
        try:  # a network deleted meanwhile (404) needs no DHCP port any more
            neutron.call("network", "POST", "/ports", body, ok=(201, 404))
        except LabError as exc:
            problems.append(f"DHCP port of network {network_id}: {exc}")
    return problems


def _routers(neutron: Any, routers: list[dict[str, Any]], every: list[dict[str, Any]], subnets: dict[str, Any],
             switches: dict[str, int], notes: list[str]) -> tuple[Router, ...]:
    """The routers as the edge makes them, from its list of every port (``every``)."""
    if not routers:
        return ()
    ports = [p for p in every if p.get("device_owner") in (ROUTER_INTERFACE, ROUTER_GATEWAY)]
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
        routes = tuple(sorted((r["destination"], r["nexthop"]) for r in router.get("routes") or []
                              if ":" not in r["destination"]))
        result.append(Router(router["id"], tuple(sorted(interfaces, key=lambda i: i.port_id)), gateway, next_hop,
                             tuple(sorted(snat)) if enable_snat and gateway else (), fips if gateway else (), routes))
    return tuple(sorted(result, key=lambda r: r.router_id))
