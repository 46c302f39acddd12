"""The lab's NSX node agent: what it reads for its node (a port whose server is gone, or whose key pair nova cannot
say now, costs that one VIF at most; the node's other VIFs are made), and what it checks of what it made (the
kernel's view, not its memory, decides what is intact)."""

from __future__ import annotations

from typing import Any

from stackproof_lab.dataplane import realize, state
from stackproof_lab.errors import LabError

NETWORK, SUBNET = "net-1", "subnet-1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample guest"


def port(port_id: str, server: str) -> dict[str, Any]:
    return {"id": port_id, "device_id": server, "device_owner": "compute:nova", "network_id": NETWORK,
            "mac_address": "fa:16:3e:00:00:01", "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "203.0.113.5"}],
            "admin_state_up": True, "port_security_enabled": True}


class Neutron:
    """Neutron and nova as rest.Cloud answers: server `gone` is 404 (None with ok=404), `down` raises."""

    def __init__(self, ports: list[dict[str, Any]]) -> None:
        self.ports = ports

    def call(self, service: str, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200,)) -> Any:
        if service == "compute":
            if "/servers/down" in path:
                raise LabError("compute GET /servers/down: HTTP 503 nova is restarting")
            if "/servers/gone" in path:
                assert 404 in ok, "a server that is gone is an answer, not a failure"
                return {"itemNotFound": {"code": 404}}
            if path.startswith("/servers/"):
                return {"server": {"key_name": "k", "user_id": "u"}}
            return {"keypair": {"public_key": KEY}}
        if path.startswith("/ports"):
            return {"ports": self.ports}
        if path == "/subnets":
            return {"subnets": [{"id": SUBNET, "ip_version": 4, "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1"}]}
        if path == "/networks":
            return {"networks": [{"id": NETWORK, "mtu": 1450}]}
        raise AssertionError(f"unexpected call {service} {method} {path}")


class Nsx:
    def __init__(self, ports: list[dict[str, Any]]) -> None:
        self.ports = ports

    def call(self, method: str, path: str) -> Any:
        if path == "/api/v1/logical-switches":
            return {"results": [{"vni": 65538, "tags": [{"scope": "policyPath", "tag": f"/infra/segments/{NETWORK}"}]}]}
        return {"results": [{"port": p["id"], "rules": []} for p in self.ports]}


def test_a_server_that_is_gone_or_unreadable_costs_only_its_own_vif() -> None:
    ports = [port("p-live", "live"), port("p-gone", "gone"), port("p-down", "down")]
    keys: dict[str, str | None] = {}

    desired = state.read(Neutron(ports), Nsx(ports), "kvm-1", edge=False, keys=keys)

    plugged = {v.port_id: v for v in desired.vifs}
    assert set(plugged) == {"p-live", "p-gone"}
    assert plugged["p-live"].authorized_key == KEY and plugged["p-live"].mtu == 1450
    assert plugged["p-gone"].authorized_key is None  # nothing logs into a server that is gone
    assert any("p-down" in note and "unreadable" in note for note in desired.notes), desired.notes
    assert "down" not in keys  # asked again next turn, once nova answers


def test_the_agent_remakes_what_the_kernel_no_longer_holds(monkeypatch) -> None:
    """What the agent made is checked against the kernel on its sweeps: a tap off its bridge, a tunnel that
    floods to too few TEPs or a guest whose sshd went is made again, not trusted from memory."""
    vif = state.Vif("6992918d-f42c-44d2-b820-bec8324ee6fc", "fa:16:3e:2c:bc:70", ("203.0.113.92/24",),
                    "203.0.113.1", 65538, 1500, (), authorized_key=KEY)
    node = realize.Node("192.0.2.241", ("192.0.2.242", "192.0.2.245"), None)
    node.made = {"segment 65538": 65538, f"vif {vif.port_id}": vif}
    links = {"nsx65538": realize.Link(None, True), "vx65538": realize.Link("nsx65538", True),
             vif.tap: realize.Link("nsx65538", True)}
    monkeypatch.setattr(realize, "_link_table", lambda: links)
    monkeypatch.setattr(realize, "_namespaces", lambda: {vif.namespace})
    monkeypatch.setattr(realize, "_flood_list", lambda device: {"192.0.2.242", "192.0.2.245"})
    monkeypatch.setattr(realize, "_guest_running", lambda v: True)
    monkeypatch.setattr(realize, "_arp_ignore", lambda device: realize.ARP_NEVER)
    assert node.broken() == {}

    monkeypatch.setattr(realize, "_arp_ignore", lambda device: 0)  # Linux's default: answers for any address
    assert "answers ARP" in node.broken()["segment 65538"]
    monkeypatch.setattr(realize, "_arp_ignore", lambda device: realize.ARP_NEVER)

    links[vif.tap] = realize.Link(None, True)
    monkeypatch.setattr(realize, "_flood_list", lambda device: {"192.0.2.242"})
    broken = node.broken()
    assert "not on nsx65538" in broken[f"vif {vif.port_id}"]
    assert "not to every TEP" in broken["segment 65538"]
    assert node.broken(skip={"segment 65538", f"vif {vif.port_id}"}) == {}  # made this turn: not judged yet

    links[vif.tap] = realize.Link("nsx65538", True)
    monkeypatch.setattr(realize, "_guest_running", lambda v: False)
    assert node.broken()[f"vif {vif.port_id}"] == "its guest sshd is not running"


def test_a_segment_bridge_never_speaks_for_its_host(monkeypatch) -> None:
    """A guest whose fixed IP is also an address of the compute (the lab's data network shares 203.0.113.0/24 with
    the checks' networks) must be answered by the guest only: the segment's bridge answers no ARP and has no IPv6."""
    commands = []
    monkeypatch.setattr(realize, "run", lambda *argv, stdin=None: commands.append(argv) or "")
    monkeypatch.setattr(realize, "_links", lambda: set())
    monkeypatch.setattr(realize, "_flood_list", lambda device: set())
    realize.Node("192.0.2.241", ("192.0.2.245",), None)._segment("segment 65538", 65538)
    assert ("sysctl", "-qw", "net.ipv4.conf.nsx65538.arp_ignore=8", "net.ipv6.conf.nsx65538.disable_ipv6=1") in commands
