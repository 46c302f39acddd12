"""NSX-8: security groups really filter traffic on both hypervisors, on every compute: what a rule allows flows, a
removed rule stops it within the designed bound (and a restored one lets it flow again), and a group without rules
blocks.

The runner reaches each instance as a user does, through a floating IP (the NSX plugin's Tier-1 NAT), and knocks on
the instance's ssh port: an answer (connection accepted or refused by the guest) is traffic that flowed, silence is
traffic that was filtered. That instances on the two hypervisors reach each other from inside is SP-NSX-010.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stackproof.findings import expect
from stackproof.waiting import WaitTimeout, wait_for
from suites.nsx.attachment import boot_everywhere, expect_every_compute_evaluated, port_of, run_network
from suites.nsx.guests import floating_ips, require_floating_ips

pytestmark = [pytest.mark.nsx]

SSH = 22
KNOCK_TIMEOUT = 2.0  # seconds a knock waits for an answer before it counts as filtered
RULE = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": SSH, "port_range_max": SSH,
        "remote_ip_prefix": "0.0.0.0/0"}


def answers(address: str) -> bool:
    """Whether the instance behind `address` answers on its ssh port (accepted or refused: the packet got there)."""
    try:
        with socket.create_connection((address, SSH), timeout=KNOCK_TIMEOUT):
            return True
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def knock_all(addresses: dict[str, str]) -> dict[str, bool]:
    """Knock on every address at once: a round takes one knock's time, however many are silent."""
    with ThreadPoolExecutor(max_workers=len(addresses), thread_name_prefix="sp-knock") as pool:
        return dict(zip(addresses, pool.map(answers, addresses.values()), strict=True))


def all_settle(addresses: dict[str, str], flowing: bool, seconds: float, what: str) -> float:
    """Seconds until every instance answers (or none does); fails with the ones that did not within `seconds`."""
    started, timed_out = time.monotonic(), None
    try:
        wait_for(lambda: knock_all(addresses),
                 until=lambda seen: all(v == flowing for v in seen.values()), timeout=seconds, interval=0.5,
                 description=what, state=lambda seen: ", ".join(f"{n}: {'answers' if v else 'silent'}"
                                                                 for n, v in sorted(seen.items())))
    except WaitTimeout as exc:
        timed_out = str(exc)
    expect(timed_out is None, what, expected=f"{'answers' if flowing else 'silence'} within {seconds:g} s",
           found=timed_out, where=f"floating IPs {addresses}, tcp/{SSH}")
    return time.monotonic() - started


@pytest.mark.control(
    "SP-NSX-008",
    title="Security groups filter traffic on both hypervisors, within the designed bound",
    statement="Security groups work for instances on both hypervisors (legacy networking on vSphere had none): "
              "allowed traffic flows, a removed rule stops it, a group without rules blocks.",
)
@pytest.mark.workload
def test_security_groups_filter_traffic(cloud, run, target, resources, waiter, nsx_design) -> None:
    require_floating_ips(cloud)
    network = run_network(resources, "nsx8-net")
    group = resources.create("security_group", hint="nsx8-ssh")
    rule = cloud.network.create_security_group_rule(security_group_id=group.id, **RULE)
    empty = resources.create("security_group", hint="nsx8-empty")
    for default in cloud.network.security_group_rules(security_group_id=empty.id):
        cloud.network.delete_security_group_rule(default)

    # A server on every compute: a firewall one host does not enforce is a hole, whatever the others do.
    boots, unusable = boot_everywhere(cloud, resources, target, run, network, "nsx8",
                                      security_groups=[{"name": group.name}])
    servers = [b.active(waiter) for b in boots]
    ports = {server.compute_host: port_of(cloud, server, network) for server in servers}
    addresses = floating_ips(cloud, resources, nsx_design, network, ports, "nsx8")

    bound = nsx_design.enforcement_seconds
    all_settle(addresses, True, waiter.timeouts.get("server_active"),
               f"ssh allowed by security group {group.name} to reach the instances")
    cloud.network.delete_security_group_rule(rule)
    all_settle(addresses, False, bound, f"ssh to stop within {bound:g} s of removing its rule from {group.name}")
    cloud.network.create_security_group_rule(security_group_id=group.id, **RULE)
    all_settle(addresses, True, bound, f"ssh to flow again within {bound:g} s of restoring its rule")
    for port in ports.values():
        cloud.network.update_port(port, security_groups=[empty.id])
    all_settle(addresses, False, bound, f"ssh to stop within {bound:g} s of moving the ports to {empty.name}, "
               "a group without rules")
    expect_every_compute_evaluated(unusable, "security group enforcement")
