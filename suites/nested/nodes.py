"""The two clouds of a nested deployment as the nested checks read them: the undercloud's servers, ports and
trunks, and the overcloud's hypervisors, controllers and networks, turned into rules.py's facts.

Every overcloud node is found from the clouds themselves: a hypervisor by its host_ip (an address of an
undercloud server), a controller by its service host name (an undercloud server's hostname).
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from suites.nested.rules import Endpoint, OverNetwork, Trunk, UnderPort, UnderServer

# Overcloud services that make a host a controller: losing two of them at once loses the control plane.
CONTROL_BINARIES = {"compute": ("nova-scheduler", "nova-conductor"), "block-storage": ("cinder-scheduler",)}


def undercloud_servers(undercloud: Any) -> list[UnderServer]:
    servers = []
    for server in undercloud.compute.servers(details=True, all_projects=True):
        addresses = frozenset(entry["addr"] for entries in (server.addresses or {}).values() for entry in entries)
        servers.append(UnderServer(id=server.id, name=server.name or "", hostname=server.hostname or "",
                                   status=server.status or "", host_status=server.host_status or "",
                                   compute_host=server.compute_host or "", addresses=addresses))
    return servers


def overcloud_hypervisors(overcloud: Any) -> list[tuple[str, str]]:
    """(nova-compute host, host_ip) of every overcloud hypervisor: the name the overcloud's compute services and
    the inventory's nova.conf know it by."""
    return [((hv.service_details or {}).get("host") or hv.name, hv.host_ip or "")
            for hv in overcloud.compute.hypervisors(details=True)]


def overcloud_controllers(overcloud: Any) -> dict[str, list[str]]:
    """Overcloud service host -> the control services it runs (nova-scheduler, nova-conductor, cinder-scheduler)."""
    found: dict[str, list[str]] = {}
    services = list(overcloud.compute.services())
    if overcloud.has_service("block-storage"):
        services += list(overcloud.block_storage.services())
    wanted = {binary for binaries in CONTROL_BINARIES.values() for binary in binaries}
    for service in services:
        if service.binary in wanted:
            found.setdefault(service.host, []).append(service.binary)
    return found


def _resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple(sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}))
    except OSError:
        return ("",)


def overcloud_endpoints(overcloud: Any) -> list[Endpoint]:
    """Every public endpoint of the overcloud's catalogue, with what its host resolves to from the runner."""
    names = {service.id: service.type for service in overcloud.identity.services()}
    endpoints = []
    for endpoint in overcloud.identity.endpoints(interface="public"):
        host = urlsplit(endpoint.url).hostname or ""
        endpoints.append(Endpoint(names.get(endpoint.service_id, endpoint.service_id), endpoint.url,
                                  _resolve(host) if host else ("",)))
    return endpoints


def undercloud_subnets(undercloud: Any) -> list[tuple[str, bool]]:
    """(CIDR, on an external network) of every undercloud subnet."""
    external = {network.id: bool(network.is_router_external) for network in undercloud.network.networks()}
    return [(subnet.cidr, external.get(subnet.network_id, False)) for subnet in undercloud.network.subnets()]


def node_ports(undercloud: Any, servers: list[UnderServer]) -> list[UnderPort]:
    ports = []
    for server in servers:
        for port in undercloud.network.ports(device_id=server.id):
            ports.append(UnderPort(port.id, port.network_id, server.id, bool(port.is_port_security_enabled),
                                   frozenset(ip["ip_address"] for ip in port.fixed_ips or [])))
    return ports


def trunks(undercloud: Any) -> list[Trunk]:
    return [Trunk(trunk.id, trunk.port_id,
                  frozenset(int(sub["segmentation_id"]) for sub in trunk.sub_ports or []
                            if sub.get("segmentation_type") == "vlan"),
                  frozenset(sub["port_id"] for sub in trunk.sub_ports or []))
            for trunk in undercloud.network.trunks()]


def subports(undercloud: Any, of: list[Trunk], ports: list[UnderPort]) -> list[UnderPort]:
    """The sub-ports of the trunks whose parent is one of `ports`, as ports of the parent's server (a sub-port
    carries no device_id of its own)."""
    device_of = {port.id: port.device for port in ports}
    found = []
    for trunk in of:
        if trunk.parent_port not in device_of:
            continue
        for port_id in sorted(trunk.subports):
            port = undercloud.network.get_port(port_id)
            found.append(UnderPort(port.id, port.network_id, device_of[trunk.parent_port],
                                   bool(port.is_port_security_enabled)))
    return found


def overcloud_networks(overcloud: Any) -> list[OverNetwork]:
    networks = []
    for network in overcloud.network.networks():
        segments = tuple((s.get("provider:network_type", ""), s.get("provider:segmentation_id"))
                         for s in network.segments or []) or (
            (network.provider_network_type or "", network.provider_segmentation_id),)
        networks.append(OverNetwork(network.id, network.name or "", int(network.mtu or 0), segments))
    return networks
