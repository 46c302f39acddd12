"""NSX-10: servers on the two hypervisors reach each other over their overlay network, from inside: each answers
the other's ICMP echo and accepts its TCP connection, both ways.

SP-NSX-004 proves both ports are bound to one logical switch, SP-NSX-008 that the runner reaches each through NAT;
only from inside does traffic cross between the two hypervisors' transport nodes, the path a tunnel between them
(TEP to TEP) carries. The runner logs into each guest through its floating IP with a key pair of the check's own.
"""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, VMWARE_HV_TYPE
from suites.nsx.attachment import Boot, port_of, run_network
from suites.nsx.guests import floating_ips, guest_key, login, require_floating_ips

pytestmark = [pytest.mark.nsx]

SSH = 22
OPEN = [{"direction": "ingress", "ethertype": "IPv4", "protocol": protocol, "remote_ip_prefix": "0.0.0.0/0", **ports}
        for protocol, ports in (("tcp", {"port_range_min": SSH, "port_range_max": SSH}), ("icmp", {}))]


def _said(result, marker: str = "") -> str:
    """The line of a command's output that tells what happened (ping's statistics), else its last one."""
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return next((line for line in lines if marker and marker in line), lines[-1] if lines else "no output")


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
        boots = [Boot(cloud, resources, target, run, hv_type, network, f"nsx10-{family}", key_name=key.name,
                      security_groups=[{"name": group.name}])
                 for family, hv_type in (("kvm", KVM_HV_TYPE), ("vmware", VMWARE_HV_TYPE))]
        servers = [b.active(waiter) for b in boots]
        ports = {server.id: port_of(cloud, server, network) for server in servers}
        addresses = floating_ips(cloud, resources, nsx_design, network, ports, "nsx10")
        limit = waiter.timeouts.get("server_active")
        guests = {s.id: login(addresses[s.id], nsx_design.guest_user, key, limit,
                              f"server {s.id} on {s.compute_host} to accept an ssh login") for s in servers}
        for source, peer in ((servers[0], servers[1]), (servers[1], servers[0])):
            address = ports[peer.id].fixed_ips[0]["ip_address"]
            ping = guests[source.id].run("ping -c 3 -W 2 %s", address)
            tcp = guests[source.id].run("nc -z -w 3 %s %s", address, str(SSH))
            expect(ping.rc == 0 and tcp.rc == 0,
                   f"server {source.id} on {source.compute_host} does not reach server {peer.id} on "
                   f"{peer.compute_host} over network {network.name}",
                   expected=f"ICMP echo replies from {address} and a TCP connection to {address}:{SSH}",
                   found=f"ping exit {ping.rc} ({_said(ping, 'packet loss')}); nc exit {tcp.rc} ({_said(tcp)})",
                   where=f"from {source.compute_host} (server {source.id}, port {ports[source.id].id}) to "
                         f"{peer.compute_host} (server {peer.id}, port {ports[peer.id].id}), network {network.id}")
