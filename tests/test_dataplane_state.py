"""The lab's NSX node agent: what it reads for its node (VIFs from Neutron and NSX; on the edge, a DHCP server for
each network with instances, with a static lease per instance port, and the DHCP ports it still lacks), and what it
checks of what it made (the kernel's view, not its memory, decides what is intact)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackproof_lab.dataplane import guest, realize, render, state

NETWORK, SUBNET = "net-1", "subnet-1"
BARE, BARE_SUBNET = "net-2", "subnet-2"  # a network with an instance and no DHCP port yet


def port(port_id: str, server: str, address: str = "203.0.113.5", *, network: str = NETWORK, subnet: str = SUBNET,
         owner: str = "compute:nova", host: str = "kvm-1", mac: str = "fa:16:3e:00:00:01") -> dict[str, Any]:
    return {"id": port_id, "device_id": server, "device_owner": owner, "network_id": network, "mac_address": mac,
            "fixed_ips": [{"subnet_id": subnet, "ip_address": address}], "admin_state_up": True,
            "port_security_enabled": True, "binding:host_id": host}


class Neutron:
    """Neutron as rest.Cloud answers, with its host filter. Nova is never asked: the guest gets its key pair from
    the metadata service, not from the agent."""

    def __init__(self, ports: list[dict[str, Any]]) -> None:
        self.ports = ports
        self.created: list[dict[str, Any]] = []

    def call(self, service: str, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200,)) -> Any:
        assert service == "network", f"the agent asked {service}: {method} {path}"
        if method == "POST" and path == "/ports":
            self.created.append(body["port"])
            return {"port": body["port"]}
        if path.startswith("/ports?binding:host_id="):
            return {"ports": [p for p in self.ports if p["binding:host_id"] == path.split("=", 1)[1]]}
        if path == "/ports":
            return {"ports": self.ports}
        if path == "/routers":
            return {"routers": []}
        if path == "/subnets":
            return {"subnets": [
                {"id": SUBNET, "network_id": NETWORK, "ip_version": 4, "cidr": "203.0.113.0/24",
                 "gateway_ip": "203.0.113.1", "enable_dhcp": True, "project_id": "p"},
                {"id": BARE_SUBNET, "network_id": BARE, "ip_version": 4, "cidr": "192.0.2.64/26", "gateway_ip": None,
                 "enable_dhcp": True, "project_id": "p2"}]}
        if path == "/networks":
            return {"networks": [{"id": NETWORK, "mtu": 1450}, {"id": BARE, "mtu": 1500}]}
        raise AssertionError(f"unexpected call {service} {method} {path}")


class Nsx:
    def __init__(self, ports: list[dict[str, Any]]) -> None:
        self.ports = ports

    def call(self, method: str, path: str) -> Any:
        if path == "/api/v1/logical-switches":
            return {"results": [{"vni": 65538 + i, "tags": [{"scope": "policyPath", "tag": f"/infra/segments/{net}"}]}
                                for i, net in enumerate((NETWORK, BARE))]}
        return {"results": [{"port": p["id"], "rules": []} for p in self.ports]}


def test_a_compute_plugs_its_own_vifs_without_asking_nova() -> None:
    ports = [port("p-1", "s-1"), port("p-2", "s-2", "203.0.113.6", host="kvm-2")]

    desired = state.read(Neutron(ports), Nsx(ports), "kvm-1", edge=False)

    assert [(v.port_id, v.addresses, v.mtu) for v in desired.vifs] == [("p-1", ("203.0.113.5/24",), 1450)]
    assert desired.dhcp == () and desired.vnis == {65538}


def test_the_edge_serves_dhcp_to_every_instance_and_reserves_the_ports_it_lacks() -> None:
    ports = [port("p-1", "s-1", mac="fa:16:3e:00:00:01"),
             port("p-2", "s-2", "203.0.113.6", host="vmware-2", mac="fa:16:3e:00:00:02"),
             port("d-1", "dhcp-controller-net-1", "203.0.113.2", owner="network:dhcp", host="",
                  mac="fa:16:3e:00:00:0d"),
             port("p-3", "s-3", "192.0.2.70", network=BARE, subnet=BARE_SUBNET, host="kvm-2")]
    neutron = Neutron(ports)

    desired = state.read(neutron, Nsx(ports), "controller", edge=True)

    assert desired.vifs == ()
    (server,) = desired.dhcp
    assert (server.network_id, server.port_id, server.address, server.gateway, server.vni, server.mtu) == (
        NETWORK, "d-1", "203.0.113.2/24", "203.0.113.1", 65538, 1450)
    assert server.hosts == (("fa:16:3e:00:00:01", "203.0.113.5"), ("fa:16:3e:00:00:02", "203.0.113.6"))
    assert desired.vnis == {65538}  # the edge carries the segment its DHCP server is on
    assert desired.dhcp_ports_wanted == ((BARE, BARE_SUBNET, "p2"),)
    assert state.reserve_dhcp_ports(neutron, "controller", desired.dhcp_ports_wanted) == []
    (created,) = neutron.created
    assert (created["device_owner"], created["network_id"], created["fixed_ips"], created["project_id"]) == (
        "network:dhcp", BARE, [{"subnet_id": BARE_SUBNET}], "p2")


def test_a_dhcp_server_gives_static_leases_the_metadata_route_and_the_mtu() -> None:
    server = state.DhcpServer(NETWORK, "d-1", "fa:16:3e:00:00:0d", "203.0.113.2/24", "203.0.113.1", 65538, 1450,
                              (("fa:16:3e:00:00:01", "203.0.113.5"),))
    argv = render.dnsmasq(server, Path("/var/lib/nsx/dhcp") / NETWORK)
    assert "--dhcp-range=203.0.113.0,static,255.255.255.0,infinite" in argv
    assert "--dhcp-option=option:classless-static-route,169.254.169.254/32,203.0.113.2,0.0.0.0/0,203.0.113.1" in argv
    assert "--dhcp-option=option:mtu,1450" in argv and "--port=0" in argv and f"--interface={server.inner}" in argv
    no_gateway = render.dnsmasq(state.DhcpServer(BARE, "d-2", "fa:16:3e:00:00:0e", "192.0.2.66/26", None, 65539,
                                                 1500, ()), Path("/tmp"))
    assert "--dhcp-option=option:classless-static-route,169.254.169.254/32,192.0.2.66" in no_gateway
    assert "--dhcp-option=option:router" in no_gateway  # an empty router option: no default route


def test_the_agent_remakes_what_the_kernel_no_longer_holds(monkeypatch) -> None:
    """What the agent made is checked against the kernel on its sweeps: a tap off its bridge, a tunnel that
    floods to too few TEPs or a guest whose sshd went is made again, not trusted from memory."""
    vif = state.Vif("6992918d-f42c-44d2-b820-bec8324ee6fc", "fa:16:3e:2c:bc:70", ("203.0.113.92/24",), 65538,
                    1500, ())
    dhcp = state.DhcpServer(NETWORK, "d-1", "fa:16:3e:00:00:0d", "203.0.113.2/24", "203.0.113.1", 65538, 1500, ())
    node = realize.Node("192.0.2.241", ("192.0.2.242", "192.0.2.245"), None)
    node.made = {"segment 65538": 65538, f"vif {vif.port_id}": vif, f"dhcp {NETWORK}": dhcp}
    links = {"nsx65538": realize.Link(None, True), "vx65538": realize.Link("nsx65538", True),
             vif.tap: realize.Link("nsx65538", True), dhcp.outer: realize.Link("nsx65538", True)}
    running = {"guest.pid", "dnsmasq.pid", "proxy.pid"}
    monkeypatch.setattr(realize, "_link_table", lambda: links)
    monkeypatch.setattr(realize, "_namespaces", lambda: {vif.namespace, dhcp.namespace})
    monkeypatch.setattr(realize, "_flood_list", lambda device: {"192.0.2.242", "192.0.2.245"})
    for module in (realize, guest):  # the DHCP server's processes, the guest's
        monkeypatch.setattr(module, "running", lambda pid_file, marker: pid_file.name in running)
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
    running.clear()
    broken = node.broken()
    assert broken[f"vif {vif.port_id}"] == "its guest is not running"
    assert broken[f"dhcp {NETWORK}"] == "its dnsmasq is not running"
    running.add("dnsmasq.pid")
    assert node.broken()[f"dhcp {NETWORK}"] == "its metadata proxy is not running"


def test_a_segment_bridge_never_speaks_for_its_host(monkeypatch) -> None:
    """A guest whose fixed IP is also an address of the compute (the lab's data network shares 203.0.113.0/24 with
    the checks' networks) must be answered by the guest only: the segment's bridge answers no ARP and has no IPv6."""
    commands = []
    monkeypatch.setattr(realize, "run", lambda *argv, stdin=None: commands.append(argv) or "")
    monkeypatch.setattr(realize, "_links", lambda: set())
    monkeypatch.setattr(realize, "_flood_list", lambda device: set())
    realize.Node("192.0.2.241", ("192.0.2.245",), None)._segment("segment 65538", 65538)
    assert ("sysctl", "-qw", "net.ipv4.conf.nsx65538.arp_ignore=8", "net.ipv6.conf.nsx65538.disable_ipv6=1") in commands


def test_a_kvm_node_plugs_taps_into_its_open_vswitch_bridge_as_os_vif_does(monkeypatch) -> None:
    """On a KVM node the tap is an Open vSwitch port of the NSX-managed bridge with the port's id and MAC in its
    external ids, on its segment's local VLAN; the kernel still sees the tap, so it answers no ARP for the host."""
    commands = []
    monkeypatch.setattr(realize, "run", lambda *argv, stdin=None: commands.append(argv) or "")
    vif = state.Vif("6992918d-f42c-44d2-b820-bec8324ee6fc", "fa:16:3e:2c:bc:70", ("203.0.113.92/24",), 65538, 1500,
                    ())
    realize.Node("192.0.2.241", (), None, integration_bridge="nsx-managed")._plug(vif)
    tag = f"tag={realize.local_vlan(65538)}"
    assert ("ovs-vsctl", "--timeout=10", "--may-exist", "add-port", "nsx-managed", vif.tap, tag, "--", "set",
            "Interface", vif.tap, f"external_ids:iface-id={vif.port_id}", f"external_ids:attached-mac={vif.mac}",
            "external_ids:iface-status=active") in commands
    assert ("sysctl", "-qw", f"net.ipv4.conf.{vif.tap}.arp_ignore=8",
            f"net.ipv6.conf.{vif.tap}.disable_ipv6=1") in commands
    assert not any("master" in argv for argv in commands)  # not on a Linux bridge
    assert len({realize.local_vlan(vni) for vni in range(65536, 65536 + 4094)}) == 4094  # distinct per segment
