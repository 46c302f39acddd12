"""Lab faults of the NSX attachment, each what an SP-NSX control exists to catch.

Most act where an operator or a broken NSX would: through the lab NSX manager's Policy API (a segment port moved to
another segment, a segment whose transport zone is gone, a rule missing from a security policy), through Neutron's
API (a VLAN tenant network) or its configuration (the core plugin, the binding of VMware ports); the Open vSwitch
agent is registered where an agent's report lands, in Neutron's agents table.

The actions build on ``stackproof_lab/faults.py``'s, which adds FAULTS below to its own registry: import this
module through that one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stackproof_lab import config, provision, services
from stackproof_lab.errors import LabError
from stackproof_lab.faults import Action, ConfigOption, Fault
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import design
from stackproof_lab.nsx import lab as nsx_lab

# Metadata NSX adds to an object; a body written back through the API leaves them out.
_SYSTEM_FIELDS = ("path", "relative_path", "parent_path", "unique_id", "marked_for_delete", "overridden")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("_") and k not in _SYSTEM_FIELDS}


def _find(layout: Layout, collection: str, name: str, **filters: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"name": name, **filters}.items())
    found = provision.admin(layout).call("network", "GET", f"/{collection}?{query}")[collection.replace("-", "_")]
    if not found:
        raise LabError(f"{collection[:-1]} {name!r} does not exist; is the lab provisioned?")
    return found[0]


@dataclass(frozen=True)
class SegmentPortMoved(Action):
    """Move a port's segment port to a segment of its own (NSX-side: the VIF attached to another logical switch
    than its network's); clear moves it back and removes that segment."""

    port: str
    network: str
    segment: str

    def _paths(self, layout: Layout) -> tuple[str, str]:
        network = _find(layout, "networks", self.network)
        port = _find(layout, "ports", self.port, network_id=network["id"])
        return (f"{design.segment_path(network['id'])}/ports/{port['id']}",
                f"{design.segment_path(self.segment)}/ports/{port['id']}")

    def _move(self, layout: Layout, source: str, destination: str) -> str:
        nsx = nsx_lab.client(layout)
        try:
            body = nsx.policy("GET", source)
        except LabError:
            nsx.policy("GET", destination)  # it must be there, then
            return f"segment port already at {destination}"
        nsx.policy("PATCH", destination, _writable(body))
        nsx.policy("DELETE", source)
        return f"segment port moved from {source} to {destination}"

    def inject(self, layout: Layout) -> str:
        nsx = nsx_lab.client(layout)
        nsx.policy("PATCH", design.segment_path(self.segment), {
            "display_name": self.segment, "transport_zone_path": design.transport_zone_path(design.OVERLAY_TZ_ID),
            "description": "a segment no Neutron network has (stackproof lab fault)"})
        return self._move(layout, *self._paths(layout))

    def clear(self, layout: Layout) -> str:
        home, away = self._paths(layout)
        note = self._move(layout, away, home)
        nsx_lab.client(layout).policy("DELETE", design.segment_path(self.segment))
        return f"{note}; segment {self.segment} deleted"


@dataclass(frozen=True)
class SegmentTransportZone(Action):
    """Point a network's segment at a transport zone that does not exist: NSX cannot realize it; clear points it
    back at the overlay transport zone."""

    network: str
    transport_zone: str

    def _set(self, layout: Layout, tz_id: str) -> str:
        network = _find(layout, "networks", self.network)
        path = design.segment_path(network["id"])
        nsx_lab.client(layout).policy("PATCH", path, {"transport_zone_path": design.transport_zone_path(tz_id)})
        return f"segment {path} of {self.network}: transport zone {tz_id}"

    def inject(self, layout: Layout) -> str:
        return self._set(layout, self.transport_zone)

    def clear(self, layout: Layout) -> str:
        return self._set(layout, design.OVERLAY_TZ_ID)


@dataclass(frozen=True)
class PolicyRuleRemoved(Action):
    """Delete from NSX the policy rule of one Neutron rule of a security group (Neutron keeps the rule); the rule's
    body is kept under the state dir, and clear writes it back."""

    name: str  # the fault's name: its stash file
    group: str
    protocol: str
    port: int

    def _stash(self, layout: Layout):
        return design.state_dir(layout) / "faults" / f"{self.name}.json"

    def _rule_path(self, layout: Layout) -> str:
        group = _find(layout, "security-groups", self.group)
        rules = [r for r in group["security_group_rules"]
                 if r["protocol"] == self.protocol and r["port_range_min"] == self.port]
        if not rules:
            raise LabError(f"security group {self.group} has no {self.protocol}/{self.port} rule")
        return f"/infra/domains/{group['project_id']}/security-policies/{group['id']}/rules/{rules[0]['id']}"

    def inject(self, layout: Layout) -> str:
        path = self._rule_path(layout)
        nsx = nsx_lab.client(layout)
        stash = self._stash(layout)
        try:
            body = nsx.policy("GET", path)
        except LabError:
            if stash.exists():
                return f"rule {path} already removed"
            raise
        stash.parent.mkdir(parents=True, exist_ok=True)
        stash.write_text(json.dumps({"path": path, "body": _writable(body)}))
        nsx.policy("DELETE", path)
        return f"rule {path} ({self.protocol}/{self.port} of {self.group}) deleted from NSX"

    def clear(self, layout: Layout) -> str:
        stash = self._stash(layout)
        if not stash.exists():
            return "nothing stashed: the rule was never removed"
        saved = json.loads(stash.read_text())
        nsx_lab.client(layout).policy("PATCH", saved["path"], saved["body"])
        stash.unlink()
        return f"rule {saved['path']} written back"


@dataclass(frozen=True)
class ProviderNetwork(Action):
    """Create a network of another type than the overlay through Neutron's API (a VLAN provider network given to
    a tenant); clear deletes it."""

    name: str
    network_type: str
    physical_network: str
    segmentation_id: int

    def inject(self, layout: Layout) -> str:
        cloud = provision.admin(layout)
        if cloud.call("network", "GET", f"/networks?name={self.name}")["networks"]:
            return f"network {self.name} already exists"
        member = cloud.call("identity", "GET", f"/projects?name={provision.MEMBER_PROJECT}")["projects"][0]["id"]
        network = cloud.call("network", "POST", "/networks", {"network": {
            "name": self.name, "project_id": member, "provider:network_type": self.network_type,
            "provider:physical_network": self.physical_network, "provider:segmentation_id": self.segmentation_id,
        }})["network"]
        return f"network {self.name} ({network['id']}): {self.network_type} {self.segmentation_id}"

    def clear(self, layout: Layout) -> str:
        cloud = provision.admin(layout)
        gone = []
        for network in cloud.call("network", "GET", f"/networks?name={self.name}")["networks"]:
            cloud.call("network", "DELETE", f"/networks/{network['id']}")
            gone.append(network["id"])
        return f"network {self.name} deleted ({', '.join(gone) or 'was not there'})"


@dataclass(frozen=True)
class AgentRegistered(Action):
    """Register a Neutron agent as its first report does (a row in neutron.agents, heartbeat now); clear removes it,
    as `openstack network agent delete` does."""

    agent_id: str
    agent_type: str
    binary: str
    host: str

    def inject(self, layout: Layout) -> str:
        services.sql(layout, (
            "INSERT IGNORE INTO neutron.agents (id, agent_type, `binary`, topic, host, admin_state_up, created_at, "
            "started_at, heartbeat_timestamp, configurations, `load`) VALUES ('{}', '{}', '{}', 'N/A', '{}', 1, "
            "UTC_TIMESTAMP(), UTC_TIMESTAMP(), UTC_TIMESTAMP(), '{}', 0)"
        ).format(self.agent_id, self.agent_type, self.binary, self.host,
                 json.dumps({"bridge_mappings": {}, "integration_bridge": "br-int"})))
        return f"{self.agent_type} {self.agent_id} registered on {self.host}"

    def clear(self, layout: Layout) -> str:
        services.sql(layout, f"DELETE FROM neutron.agents WHERE id = '{self.agent_id}'")
        return f"agent {self.agent_id} deleted"


_SG_RULE_FAULT = "nsx-policy-rule-missing"
FAULTS: list[Fault] = [
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
        f"an Open vSwitch agent is registered on {config.KVM_COMPUTES[0]}: an L2 agent next to NSX on a compute",
        ("SP-NSX-003",),
        AgentRegistered("5f0c2a8e-0d4b-4c1e-9a37-6b2e1f7d9c01", "Open vSwitch agent", "neutron-openvswitch-agent",
                        config.KVM_COMPUTES[0]),
    ),
    Fault(
        "vmware-port-bound-as-portgroup",
        "the lab's Neutron binds ports on the VMware computes as vSphere portgroup ports (vif_type dvs, as the DVS "
        "plugin does) instead of NSX logical switch ports: nova's VMware driver backs their NICs with a portgroup "
        "named after the network instead of the logical switch's opaque network, and no host carries one, so "
        "VMware servers with ports do not boot",
        ("SP-NSX-004", "SP-NSX-005"),
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
]
