"""NSX-10: servers on the two hypervisors reach each other over their overlay network, from inside: a server on
every compute, and each one on KVM answers each one on VMware's ICMP echo and accepts its TCP connection, both
ways.

SP-NSX-004 proves both ports are bound to one logical switch, SP-NSX-008 that the runner reaches each through NAT;
only from inside does traffic cross between the two hypervisors' transport nodes, the path a tunnel between them
(TEP to TEP) carries. The runner logs into each guest through its floating IP with a key pair of the check's own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stackproof.findings import expect
from suites.nsx.attachment import boot_everywhere, expect_every_compute_evaluated, port_of, run_network
from suites.nsx.guests import floating_ips, guest_key, login, require_floating_ips

pytestmark = [pytest.mark.nsx]

SSH = 22
OPEN = [{"direction": "ingress", "ethertype": "IPv4", "protocol": protocol, "remote_ip_prefix": "0.0.0.0/0", **ports}
        for protocol, ports in (("tcp", {"port_range_min": SSH, "port_range_max": SSH}), ("icmp", {}))]


def _said(result, marker: str = "") -> str:
    """The line of a command's output that tells what happened (ping's statistics), else its last one."""
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return next((line for line in lines if marker and marker in line), lines[-1] if lines else "no output")


def _unreached(guest: Any, source: Any, peers: list[Any], ports: dict[str, Any]) -> list[str]:
    """From inside `source` (logged in as `guest`), ICMP and a TCP connection to each peer's address on the
    network: a line for each peer that does not answer both."""
    lines = []
    for peer in peers:
        address = ports[peer.id].fixed_ips[0]["ip_address"]
        ping = guest.run("ping -c 3 -i 0.2 -W 2 %s", address)
        tcp = guest.run("nc -z -w 3 %s %s", address, str(SSH))
        if ping.rc != 0 or tcp.rc != 0:
            lines.append(f"server {source.id} on {source.compute_host} (port {ports[source.id].id}) does not reach "
                         f"server {peer.id} on {peer.compute_host} ({address}, port {ports[peer.id].id}): ping exit "
                         f"{ping.rc} ({_said(ping, 'packet loss')}), nc exit {tcp.rc} ({_said(tcp)})")
    return lines


@pytest.mark.control(
    "SP-NSX-010",
    title="Servers on both hypervisors reach each other over their overlay network",
    statement="VMware NSX attaches instances of both host aggregates to the same overlay-based logical network: "
              "an instance on KVM and one on ESXi exchange traffic on it, as instances on one network do.",
)
@pytest.mark.workload
def test_servers_on_both_hypervisors_reach_each_other(cloud, run, target, resources, waiter, nsx_design) -> None:
    if not nsx_design.guest_user:
        pytest.skip("not evaluated: the target names no guest login (architecture.nsx.guest_user), so the runner "
                    "cannot run a command inside a server")
    require_floating_ips(cloud)
    network = run_network(resources, "nsx10-net")
    group = resources.create("security_group", hint="nsx10-open")
    for rule in OPEN:
        cloud.network.create_security_group_rule(security_group_id=group.id, **rule)
    with guest_key(resources, "nsx10-key") as key:
        # A server on every compute: a tunnel that fails between one KVM host and one ESXi cluster only is as
        # broken as one that fails between all of them.
        boots, unusable = boot_everywhere(cloud, resources, target, run, network, "nsx10", key_name=key.name,
                                          security_groups=[{"name": group.name}])
        servers = [b.active(waiter) for b in boots]
        ports = {server.id: port_of(cloud, server, network) for server in servers}
        addresses = floating_ips(cloud, resources, nsx_design, network, ports, "nsx10")
        limit = waiter.timeouts.get("server_active")
        guests = {s.id: login(addresses[s.id], nsx_design.guest_user, key, limit,
                              f"server {s.id} on {s.compute_host} to accept an ssh login") for s in servers}
        family = {b.server.id: b.hypervisor_type for b in boots}
        peers = {s.id: [p for p in servers if family[p.id] != family[s.id]] for s in servers}
        # one thread per source guest (its commands stay in order on its own ssh connection)
        with ThreadPoolExecutor(max_workers=len(servers), thread_name_prefix="sp-nsx10") as pool:
            failed = [line for lines in pool.map(lambda s: _unreached(guests[s.id], s, peers[s.id], ports), servers)
                      for line in lines]
    tried = sum(len(p) for p in peers.values())
    expect(not failed, f"{len(failed)} of {tried} ways between servers on KVM and on VMware fail over network "
           f"{network.name}", expected=f"ICMP echo replies and a TCP connection to port {SSH}, both ways, between "
                                       "every server on a KVM compute and every server on a VMware compute",
           found="; ".join(failed),
           where=f"network {network.id}; servers " + ", ".join(f"{s.id} on {s.compute_host}" for s in servers))
    expect_every_compute_evaluated(unusable, "east-west reachability")
