"""NSX-7: every network is a realized NSX segment in the designed transport zone, every port a segment port of
its own network's segment, bound with that segment's logical switch."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.nsx.neutron import attached_vif, logical_switch_of, where_port

pytestmark = [pytest.mark.nsx]

REALIZED = "REALIZED"


def _transport_zones(policy) -> dict[str, str]:
    """Transport zone path -> display name."""
    return {tz["path"]: tz.get("display_name") or tz["id"] for tz in policy.transport_zones()}


def _segment_problems(policy, network, zones: dict[str, str], design) -> tuple[list[str], str | None]:
    """What is wrong with the network's segment, and its logical switch id when realized."""
    segment = policy.segment(network.id)
    if segment is None:
        return [f"no segment /infra/segments/{network.id}"], None
    problems = []
    zone_path = segment.get("transport_zone_path") or ""
    zone = zones.get(zone_path)
    if network.provider_network_type == "geneve" and design.transport_zone not in (zone, zone_path.rsplit("/", 1)[-1]):
        problems.append(f"transport zone {zone or zone_path or 'none'}, not {design.transport_zone}")
    realized = policy.realized_switch(network.id)
    switch = None
    if realized is None:
        problems.append("no realized logical switch")
    elif realized.get("state") != REALIZED:
        alarms = "; ".join(a.get("message", "") for a in realized.get("alarms") or [])
        problems.append(f"realization state {realized.get('state')}{': ' + alarms if alarms else ''}")
    else:
        switch = realized.get("realization_specific_identifier")
        if not switch:
            problems.append("realized without a logical switch id")
    return problems, switch


def _port_problems(policy, port, segment_ports: dict[str, dict], switch: str | None,
                   all_segments: list[str]) -> list[str]:
    problems = []
    segment_port = segment_ports.get(port.id)
    if segment_port is None:
        elsewhere = [s for s in all_segments if s != port.network_id and policy.segment_port(s, port.id)]
        problems.append(f"no segment port under its network's segment {port.network_id}"
                        + (f"; found under segment(s) {', '.join(elsewhere)}" if elsewhere else ""))
    elif attached_vif(port):
        attachment = (segment_port.get("attachment") or {}).get("id")
        if attachment != port.id:
            problems.append(f"segment port attachment.id={attachment}, not the port id")
    if port.binding_vif_type == "ovs" and switch and logical_switch_of(port) != switch:
        problems.append(f"bound with logical switch {logical_switch_of(port)}, its segment's is {switch}")
    return problems


@pytest.mark.control(
    "SP-NSX-007",
    title="Every network is a realized NSX segment and every port a segment port of its network's segment",
    statement="VMware NSX ensures the instance attaches to the appropriate network overlay-based logical networks: "
              "each Neutron network is an NSX segment realized as a logical switch in the overlay transport zone, "
              "each port a port of that segment with the port as its attachment.",
)
@pytest.mark.readonly
def test_networks_and_ports_are_realized_in_nsx(neutron, nsx_manager, nsx_design) -> None:
    policy = nsx_manager.policy()
    networks = neutron.tenant_networks()
    expect(bool(networks), "the cloud lists no tenant network to cross-check with NSX",
           expected="at least one network that is not router:external", found="none", where="network API")
    zones = _transport_zones(policy)
    segments = [s["id"] for s in policy.segments()]
    findings = []
    for network in networks:
        problems, switch = _segment_problems(policy, network, zones, nsx_design)
        findings += [f"network {network.name} ({network.id}): {p}" for p in problems]
        # One listing per segment rather than a GET per port: a cloud has many more ports than networks.
        segment_ports = {p["id"]: p for p in policy.segment_ports(network.id)} if neutron.ports.get(network.id) else {}
        for port in neutron.ports.get(network.id, []):
            findings += [f"{where_port(port)}: {p}"
                         for p in _port_problems(policy, port, segment_ports, switch, segments)]
    ports = sum(len(neutron.ports.get(n.id, [])) for n in networks)
    expect(not findings, f"{len(findings)} finding(s) across {len(networks)} network(s) and {ports} port(s)",
           expected=f"per network: segment /infra/segments/<network id> in transport zone {nsx_design.transport_zone}, "
                    "realized as a logical switch; per port: /infra/segments/<network id>/ports/<port id>, attached "
                    "by the port id, bound with its segment's logical switch",
           found=findings, where=f"NSX manager {policy.url} (Policy API) and network API")
