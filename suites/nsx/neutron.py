"""Neutron as the NSX checks read it: every network, port and security group the cloud lists (admin: all
projects), and how each network and port is expected to show in NSX (nsx_p's mapping: a segment per network with
the network's id, a segment port per port with the port's id, a group and a security policy per security group
with the group's id, in the domain of the group's project, a policy rule per Neutron rule with the rule's id).

The run's own networks and security groups are left out: the run's workload checks create and delete them while
the readonly checks read, and a half-made network is nobody's finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOGICAL_SWITCH_KEY = "nsx-logical-switch-id"  # what the NSX plugin puts in a port's binding:vif_details
ROUTER_INTERFACE = "network:router_interface"  # nsx_p attaches no VIF for these


@dataclass(frozen=True)
class Neutron:
    networks: list  # openstacksdk Network, router:external ones included
    ports: dict[str, list] = field(default_factory=dict)  # network id -> openstacksdk Port
    security_groups: list = field(default_factory=list)  # openstacksdk SecurityGroup, with their rules

    def tenant_networks(self) -> list:
        """Networks instances attach to: every one that is not external."""
        return [n for n in self.networks if not n.is_router_external]


def read_neutron(cloud: Any, run_prefix: str) -> Neutron:
    networks = [n for n in cloud.network.networks() if not (n.name or "").startswith(run_prefix)]
    wanted = {n.id for n in networks}
    ports: dict[str, list] = {network_id: [] for network_id in wanted}
    for port in cloud.network.ports():
        if port.network_id in wanted:
            ports[port.network_id].append(port)
    groups = [g for g in cloud.network.security_groups() if not (g.name or "").startswith(run_prefix)]
    return Neutron(networks, ports, groups)


def attached_vif(port: Any) -> bool:
    """Whether nsx_p gives the port's segment port a VIF attachment (id = port id): a device owns it."""
    return bool(port.device_owner) and port.device_owner != ROUTER_INTERFACE


def logical_switch_of(port: Any) -> str | None:
    return (port.binding_vif_details or {}).get(LOGICAL_SWITCH_KEY)


def where_port(port: Any) -> str:
    return (f"port {port.id} ({port.name or 'no name'}, device_owner {port.device_owner or 'none'}, host "
            f"{port.binding_host_id or 'none'}) on network {port.network_id}")
