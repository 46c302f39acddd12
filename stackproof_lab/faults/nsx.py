"""Faults of the NSX attachment, each what an SP-NSX control exists to catch.

Most act where an operator or a broken NSX would: through the lab NSX manager's Policy API (a segment port moved
to another segment, a segment whose transport zone is gone, a rule missing from a security policy) or through
Neutron's API (a VLAN tenant network); the Open vSwitch agent is registered where an agent's report lands, in
Neutron's agents table. (Neutron's configuration faults are ConfigOption entries of the catalogue.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackproof_lab import provision, services
from stackproof_lab.errors import LabError
from stackproof_lab.faults.base import Action, Lab, network_resource
from stackproof_lab.nsx import design
from stackproof_lab.nsx import lab as nsx_lab

# Metadata NSX adds to an object; a body written back through the API leaves them out.
_SYSTEM_FIELDS = ("path", "relative_path", "parent_path", "unique_id", "marked_for_delete", "overridden")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("_") and k not in _SYSTEM_FIELDS}


@dataclass(frozen=True)
class SegmentPortMoved(Action):
    """Move a port's segment port to a segment of its own (NSX-side: the VIF attached to another logical switch
    than its network's); clear moves it back and removes that segment."""

    port: str
    network: str
    segment: str

    def _paths(self, lab: Lab) -> tuple[str, str]:
        network = network_resource(lab.cloud(), "networks", self.network)
        port = network_resource(lab.cloud(), "ports", self.port, network_id=network["id"])
        return (f"{design.segment_path(network['id'])}/ports/{port['id']}",
                f"{design.segment_path(self.segment)}/ports/{port['id']}")

    def _move(self, lab: Lab, source: str, destination: str) -> str:
        nsx = nsx_lab.client(lab.layout)
        try:
            body = nsx.policy("GET", source)
        except LabError:
            nsx.policy("GET", destination)  # it must be there, then
            return f"segment port already at {destination}"
        nsx.policy("PATCH", destination, _writable(body))
        nsx.policy("DELETE", source)
        return f"segment port moved from {source} to {destination}"

    def inject(self, lab: Lab) -> str:
        nsx = nsx_lab.client(lab.layout)
        nsx.policy("PATCH", design.segment_path(self.segment), {
            "display_name": self.segment, "transport_zone_path": design.transport_zone_path(design.OVERLAY_TZ_ID),
            "description": "a segment no Neutron network has (stackproof lab fault)"})
        return self._move(lab, *self._paths(lab))

    def clear(self, lab: Lab) -> str:
        home, away = self._paths(lab)
        note = self._move(lab, away, home)
        nsx_lab.client(lab.layout).policy("DELETE", design.segment_path(self.segment))
        return f"{note}; segment {self.segment} deleted"


@dataclass(frozen=True)
class SegmentTransportZone(Action):
    """Point a network's segment at a transport zone that does not exist: NSX cannot realize it; clear points it
    back at the overlay transport zone."""

    network: str
    transport_zone: str

    def _set(self, lab: Lab, tz_id: str) -> str:
        network = network_resource(lab.cloud(), "networks", self.network)
        path = design.segment_path(network["id"])
        nsx_lab.client(lab.layout).policy("PATCH", path, {"transport_zone_path": design.transport_zone_path(tz_id)})
        return f"segment {path} of {self.network}: transport zone {tz_id}"

    def inject(self, lab: Lab) -> str:
        return self._set(lab, self.transport_zone)

    def clear(self, lab: Lab) -> str:
        return self._set(lab, design.OVERLAY_TZ_ID)


@dataclass(frozen=True)
class PolicyRuleRemoved(Action):
    """Delete from NSX the policy rule of one Neutron rule of a security group (Neutron keeps the rule); the rule's
    body is kept under the state dir, and clear writes it back."""

    name: str  # the fault's name: its stash file
    group: str
    protocol: str
    port: int

    def _stash(self, lab: Lab) -> Path:
        return design.state_dir(lab.layout) / "faults" / f"{self.name}.json"

    def _rule_path(self, lab: Lab) -> str:
        group = network_resource(lab.cloud(), "security-groups", self.group)
        rules = [r for r in group["security_group_rules"]
                 if r["protocol"] == self.protocol and r["port_range_min"] == self.port]
        if not rules:
            raise LabError(f"security group {self.group} has no {self.protocol}/{self.port} rule")
        return f"/infra/domains/{group['project_id']}/security-policies/{group['id']}/rules/{rules[0]['id']}"

    def inject(self, lab: Lab) -> str:
        path = self._rule_path(lab)
        nsx = nsx_lab.client(lab.layout)
        stash = self._stash(lab)
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

    def clear(self, lab: Lab) -> str:
        stash = self._stash(lab)
        if not stash.exists():
            return "nothing stashed: the rule was never removed"
        saved = json.loads(stash.read_text())
        nsx_lab.client(lab.layout).policy("PATCH", saved["path"], saved["body"])
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

    def inject(self, lab: Lab) -> str:
        cloud = lab.cloud()
        if cloud.call("network", "GET", f"/networks?name={self.name}")["networks"]:
            return f"network {self.name} already exists"
        member = cloud.call("identity", "GET", f"/projects?name={provision.MEMBER_PROJECT}")["projects"][0]["id"]
        network = cloud.call("network", "POST", "/networks", {"network": {
            "name": self.name, "project_id": member, "provider:network_type": self.network_type,
            "provider:physical_network": self.physical_network, "provider:segmentation_id": self.segmentation_id,
        }})["network"]
        return f"network {self.name} ({network['id']}): {self.network_type} {self.segmentation_id}"

    def clear(self, lab: Lab) -> str:
        cloud = lab.cloud()
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

    def inject(self, lab: Lab) -> str:
        services.sql(lab.layout, (
            "INSERT IGNORE INTO neutron.agents (id, agent_type, `binary`, topic, host, admin_state_up, created_at, "
            "started_at, heartbeat_timestamp, configurations, `load`) VALUES ('{}', '{}', '{}', 'N/A', '{}', 1, "
            "UTC_TIMESTAMP(), UTC_TIMESTAMP(), UTC_TIMESTAMP(), '{}', 0)"
        ).format(self.agent_id, self.agent_type, self.binary, self.host,
                 json.dumps({"bridge_mappings": {}, "integration_bridge": "br-int"})))
        return f"{self.agent_type} {self.agent_id} registered on {self.host}"

    def clear(self, lab: Lab) -> str:
        services.sql(lab.layout, f"DELETE FROM neutron.agents WHERE id = '{self.agent_id}'")
        return f"agent {self.agent_id} deleted"
