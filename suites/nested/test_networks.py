"""NEST-4 and NEST-5: the overcloud's networks ride the undercloud (VLAN trunks, or an overlay whose MTU fits),
and the undercloud ports that bridge them let nested guests' frames through."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.nested import nodes as read
from suites.nested.rules import overlay_mtu_problems, overlay_overhead, port_security_problems, vlan_carriage_problems

pytestmark = [pytest.mark.nested]


def _not_evaluated(overcloud_nodes) -> list[str]:
    """Overcloud nodes no undercloud server was found for: what a network check cannot look at."""
    return [f"{line} (not evaluated)" for line in
            overcloud_nodes.hypervisors.unmatched + overcloud_nodes.controllers.unmatched]


@pytest.mark.control(
    "SP-NEST-004",
    title="Overcloud networks are carried by the undercloud: VLANs on trunks, overlays within the MTU",
    statement="Networking is the hardest part of OpenStack on OpenStack: VLANs must be exposed again at the "
              "nested level, or an overlay on the host cloud carries the nested cloud's networks.",
)
@pytest.mark.readonly
def test_overcloud_networks_ride_the_undercloud(nested_design, undercloud, overcloud, overcloud_nodes) -> None:
    nodes = overcloud_nodes.every
    expect(bool(nodes), "no overcloud node was found in the undercloud", expected="overcloud nodes as undercloud "
           "servers", found="; ".join(_not_evaluated(overcloud_nodes)) or "none", where="see SP-NEST-002/003")
    networks = read.overcloud_networks(overcloud)
    ports = read.node_ports(undercloud, list(nodes.values()))
    # Each overcloud network by how it rides, whatever the design's main mode: a VLAN design still tunnels its
    # tenant networks over one of its VLANs, an overlay design still has VLAN provider networks.
    vlans = {seg: net.name for net in networks for kind, seg in net.segments if kind == "vlan" and seg is not None}
    overlays = [n for n in networks
                if any(overlay_overhead(kind, nested_design.geneve_max_header_size) for kind, _ in n.segments)]
    if not vlans and not overlays:
        pytest.skip(f"network_mode {nested_design.network_mode}, but the overcloud has no VLAN, VXLAN or Geneve "
                    "network yet")
    undercloud_networks = list(undercloud.network.networks())
    problems, expected, where = [], [], []
    if vlans:
        transparent = [n.id for n in undercloud_networks if n.is_vlan_transparent]
        problems += vlan_carriage_problems(vlans, nodes, read.trunks(undercloud), ports, transparent)
        expected.append(f"each of the {len(nodes)} overcloud nodes carries VLANs {sorted(vlans)} on trunk sub-ports "
                        "of its own, or sits on a vlan-transparent undercloud network")
        where.append("overcloud networks provider:segmentation_id; undercloud trunks, ports?device_id")
    if overlays:
        # The tunnels run between the overcloud hypervisors' host_ip: the undercloud networks holding those.
        carrier_ids = {port.network for port in ports if port.addresses & overcloud_nodes.host_ips}
        carriers = {n.id: (n.name, int(n.mtu or 0)) for n in undercloud_networks if n.id in carrier_ids}
        problems += overlay_mtu_problems(overlays, carriers, nested_design.geneve_max_header_size)
        expected.append("each undercloud network carrying overcloud tunnels has MTU >= every overcloud overlay MTU + "
                        f"its encapsulation (VXLAN 50, Geneve {nested_design.geneve_max_header_size} + 20)")
        carried = ", ".join(f"{name} ({i}) MTU {mtu}" for i, (name, mtu) in carriers.items())
        tunnelled = ", ".join(f"{n.name} MTU {n.mtu}" for n in overlays)
        where.append(f"undercloud networks {carried}; overcloud {tunnelled}")
    problems += _not_evaluated(overcloud_nodes)
    expect(not problems, f"{len(problems)} problem(s) carrying the overcloud's networks",
           expected="; ".join(expected), found="; ".join(problems), where="; ".join(where))


@pytest.mark.control(
    "SP-NEST-005",
    title="Undercloud ports that bridge overcloud networks have port security off",
    statement="Networking is the hardest part of OpenStack on OpenStack: the undercloud must pass the nested "
              "level's frames, whose MACs and addresses no allowed-address pair of the undercloud can list.",
)
@pytest.mark.readonly
def test_bridging_ports_have_port_security_off(nested_design, undercloud, overcloud_nodes) -> None:
    nodes = overcloud_nodes.every
    names = {server.id: name for name, server in nodes.items()}
    ports = read.node_ports(undercloud, list(nodes.values()))
    problems = []
    networks = {n.id: n.name for n in undercloud.network.networks()}
    wanted = set()
    for ref in nested_design.bridged_networks:
        matches = [i for i, name in networks.items() if ref in (i, name)]
        if len(matches) != 1:
            problems.append(f"bridged network {ref!r}: {len(matches)} undercloud networks have that name or id")
        wanted.update(matches)
    why = {p.id: f"{names[p.device]} on {networks.get(p.network, p.network)}" for p in ports if p.network in wanted}
    # A node's trunk carries overcloud VLANs whatever the design's mode: its parent and sub-ports bridge them.
    trunks = read.trunks(undercloud)
    subports = read.subports(undercloud, trunks, ports)
    parents = {t.parent_port for t in trunks}
    why.update({p.id: f"{names[p.device]}'s trunk parent" for p in ports if p.id in parents})
    why.update({p.id: f"{names[p.device]}'s trunk sub-port" for p in subports})
    ports += subports
    if not why:
        pytest.skip("no undercloud port bridges overcloud networks (no trunk of an overcloud node, "
                    "and architecture.nested.bridged_networks names none they sit on)")
    problems += port_security_problems(ports, why) + _not_evaluated(overcloud_nodes)
    expect(not problems, f"{len(problems)} undercloud port(s) that bridge overcloud networks filter them",
           expected="port_security_enabled false on every undercloud port that bridges overcloud networks",
           found="; ".join(problems),
           where="undercloud ports: " + ", ".join(f"{i} ({w})" for i, w in sorted(why.items())))
