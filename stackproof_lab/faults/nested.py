"""Faults of the nested cloud (``up --nested``): made on the undercloud through its APIs, on the overcloud through
its APIs, or handed to the overcloud lab (a fault of its own catalogue: a config option, a service of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackproof_lab import nested, provision
from stackproof_lab.errors import LabError
from stackproof_lab.faults.base import Action, Lab, network_resource
from stackproof_lab.topology import TENANT_MTU
from stackproof_lab.waiting import wait_for

POWER_TIMEOUT = 120  # seconds for an undercloud server to reach SHUTOFF or ACTIVE


def _require(lab: Lab) -> None:
    if not nested.present(lab.layout):
        raise LabError("this lab has no overcloud: `python -m stackproof_lab up --nested` places one first")


@dataclass(frozen=True)
class OvercloudFault(Action):
    """A fault of the overcloud lab's own catalogue, injected and cleared there (its overrides and stopped services
    are kept by its own ``up``)."""

    name: str

    def inject(self, lab: Lab) -> str:
        _require(lab)
        return nested.overcloud_command(lab.layout, "fault", "inject", self.name, timeout=300, capture=True).strip()

    def clear(self, lab: Lab) -> str:
        _require(lab)
        return nested.overcloud_command(lab.layout, "fault", "clear", self.name, timeout=300, capture=True).strip()


@dataclass(frozen=True)
class OvercloudEndpointInternal(Action):
    """The overcloud catalogue's public endpoint of one service points at the controller's own address, on the
    undercloud's tenant network, instead of its published floating IP (a deployment that forgot to publish it)."""

    service_type: str

    def inject(self, lab: Lab) -> str:
        return self._point(lab, internal=True)

    def clear(self, lab: Lab) -> str:
        return self._point(lab, internal=False)

    def _point(self, lab: Lab, *, internal: bool) -> str:
        _require(lab)
        over = nested.overcloud_admin(lab.layout)
        found = over.call("identity", "GET", f"/services?type={self.service_type}")["services"]
        if not found:
            raise LabError(f"the overcloud's catalogue has no {self.service_type} service")
        endpoints = over.call("identity", "GET", f"/endpoints?service_id={found[0]['id']}")["endpoints"]
        public = next((e for e in endpoints if e["interface"] == "public"), None)
        own = next((e for e in endpoints if e["interface"] == "internal"), None)
        if public is None or own is None:
            raise LabError(f"the overcloud's {self.service_type} service lacks a public or internal endpoint")
        layout = over.layout
        url = own["url"] if internal else own["url"].replace(f"//{layout.controller}:", f"//{layout.reached}:", 1)
        if public["url"] != url:
            over.call("identity", "PATCH", f"/endpoints/{public['id']}", {"endpoint": {"url": url}})
        return f"overcloud {self.service_type} public endpoint: {url}"


@dataclass(frozen=True)
class UndercloudServerStopped(Action):
    """An overcloud node's undercloud server is shut off through the undercloud's compute API (os-stop); clear
    starts it. The lab's KVM driver keeps an instance's namespace and guest through a power cycle, as it keeps no
    real VM: the node goes on running, and only the undercloud's record of it says SHUTOFF."""

    server: str

    def inject(self, lab: Lab) -> str:
        return self._power(lab, "os-stop", "SHUTOFF")

    def clear(self, lab: Lab) -> str:
        return self._power(lab, "os-start", "ACTIVE")

    def _power(self, lab: Lab, action: str, status: str) -> str:
        _require(lab)
        cloud = lab.cloud()
        server = nested.server(cloud, self.server)
        if server is None:
            raise LabError(f"the undercloud has no server {self.server}")
        if server["status"] != status:
            cloud.call("compute", "POST", f"/servers/{server['id']}/action", {action: None})
            wait_for(lambda: (nested.server(cloud, self.server) or {}).get("status") == status, timeout=POWER_TIMEOUT,
                     interval=1, what=f"undercloud server {self.server} to be {status}")
        return f"undercloud server {self.server} ({server['id']}) {status}"


@dataclass(frozen=True)
class UndercloudNetworkMtu(Action):
    """The undercloud network that tunnels the overcloud's networks gets a smaller MTU (net-mtu-writable); clear
    gives it its tenant MTU again. The NICs already plugged keep theirs, as on a hypervisor, until they are plugged
    again or their guest renews its lease: new instances, and nodes rebooted, get the smaller one."""

    network: str
    mtu: int

    def inject(self, lab: Lab) -> str:
        return self._set(lab, self.mtu)

    def clear(self, lab: Lab) -> str:
        return self._set(lab, TENANT_MTU)

    def _set(self, lab: Lab, mtu: int) -> str:
        _require(lab)
        cloud = lab.cloud()
        network = network_resource(cloud, "networks", self.network)
        if network["mtu"] != mtu:
            cloud.call("network", "PUT", f"/networks/{network['id']}", {"network": {"mtu": mtu}})
        return f"undercloud network {self.network}: MTU {mtu}"


@dataclass(frozen=True)
class UndercloudPortSecurity(Action):
    """Port security switched on for an overcloud node's undercloud port, in a security group that lets everything
    in: the node keeps working (its tunnels run between its own addresses), but the undercloud now filters the
    frames it bridges, and an allowed-address pair would be all that stands between a nested guest's MAC and the
    floor. Clear switches it off again and deletes the group."""

    port: str
    group: str

    def inject(self, lab: Lab) -> str:
        _require(lab)
        cloud = lab.cloud()
        port = network_resource(cloud, "ports", self.port)
        group = provision.ensure_named(cloud, "network", "/security-groups", "security_groups", {
            "name": self.group, "description": "everything in (stackproof lab fault)"})
        have = {(r["direction"], r["ethertype"], r["protocol"]) for r in group["security_group_rules"]}
        if ("ingress", "IPv4", None) not in have:
            cloud.call("network", "POST", "/security-group-rules", {"security_group_rule": {
                "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4"}})
        cloud.call("network", "PUT", f"/ports/{port['id']}",
                   {"port": {"port_security_enabled": True, "security_groups": [group["id"]]}})
        return f"undercloud port {self.port}: port security on, security group {self.group} (everything in)"

    def clear(self, lab: Lab) -> str:
        _require(lab)
        cloud = lab.cloud()
        port = network_resource(cloud, "ports", self.port)
        cloud.call("network", "PUT", f"/ports/{port['id']}",
                   {"port": {"security_groups": [], "port_security_enabled": False}})
        group = provision.find_named(cloud, "network", "/security-groups", "security_groups", self.group)
        if group:
            cloud.call("network", "DELETE", f"/security-groups/{group['id']}")
        return f"undercloud port {self.port}: port security off"


@dataclass(frozen=True)
class TrunkSubportRemoved(Action):
    """An overcloud node's trunk loses the sub-port that carries an overcloud VLAN (remove_subports); clear adds it
    back, on the same port."""

    trunk: str
    subport: str
    vlan: int

    def inject(self, lab: Lab) -> str:
        return self._change(lab, "remove_subports", {})

    def clear(self, lab: Lab) -> str:
        return self._change(lab, "add_subports", {"segmentation_type": "vlan", "segmentation_id": self.vlan})

    def _change(self, lab: Lab, action: str, segmentation: dict[str, Any]) -> str:
        _require(lab)
        cloud = lab.cloud()
        trunk = network_resource(cloud, "trunks", self.trunk)
        sub = {"port_id": network_resource(cloud, "ports", self.subport)["id"], **segmentation}
        present = sub["port_id"] in {s["port_id"] for s in trunk["sub_ports"]}
        if present == (action == "remove_subports"):
            cloud.call("network", "PUT", f"/trunks/{trunk['id']}/{action}", {"sub_ports": [sub]})
        return f"undercloud trunk {self.trunk}: {action.replace('_', ' ')} {self.subport} (VLAN {self.vlan})"
