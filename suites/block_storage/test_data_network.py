"""BLK-5: the compute hosts' dedicated data NIC exists, is up, has the designed MTU and carries the storage route."""

from __future__ import annotations

import ipaddress
import json

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.block_storage]


def _ip_json(host, command: str, *args: str) -> list:
    result = host.run(command, *args)
    expect(result.rc == 0, f"`{result.command}` failed", expected="exit 0", found=f"exit {result.rc}: "
           f"{result.stderr.strip()}", where=f"host {host.backend.get_hostname()}")
    return json.loads(result.stdout or "[]")


def _hosts_to_check(cloud, hosts, data_network) -> list[tuple[str, object, object]]:
    """(where, testinfra host, nova.conf or None) of every compute host: each nova-compute the cloud lists, on
    the inventory host whose nova.conf names it, and every host of the roles the design names; a compute the
    inventory does not describe is a finding."""
    names = [s.host for s in cloud.compute.services(binary="nova-compute")]
    scope = hosts.computes(names)
    expect(not scope.undescribed, f"compute(s) {', '.join(scope.undescribed)} are not in the target's inventory: "
           "their data NIC cannot be evaluated", expected="a host with the nova.conf of every nova-compute",
           found="; ".join(scope.gaps("nova-compute")), where="compute API os-services; target hosts")
    found: dict[str, tuple[str, object, object]] = {}
    for name, items in sorted(scope.covered.items()):
        for item in items:
            found.setdefault(item.host.backend.get_hostname(), (f"{name} ({item.where})", item.host, item.conf))
    for role in data_network.roles:
        for host in hosts.of(role):
            found.setdefault(host.backend.get_hostname(), (f"role {role}, host {host.backend.get_hostname()}",
                                                           host, None))
    return [found[key] for key in sorted(found)]


def _facts(host, nic: str, data_network) -> dict:
    """What one compute host's ip says about the data NIC and its routes (read in parallel over the hosts)."""
    result = host.run("ip -j addr show dev %s", nic)
    if result.rc != 0:
        return {"exists": False, "names": [link.get("ifname") for link in _ip_json(host, "ip -j link show")]}
    link = json.loads(result.stdout)[0]
    facts = {"exists": True, "flags": link.get("flags", []), "state": link.get("operstate"), "mtu": link.get("mtu"),
             "addresses": [ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}") for a in link.get("addr_info", [])],
             "defaults": [r.get("dev") for r in _ip_json(host, "ip -j route show default")]}
    if data_network.storage_target:
        # A down NIC leaves no route at all ("Network is unreachable"): kept as found, so the NIC's own state
        # is what the check reports first.
        route = host.run("ip -j route get %s", data_network.storage_target)
        facts["route"] = (json.loads(route.stdout or "[{}]")[0] if route.rc == 0
                          else {"error": route.stderr.strip() or f"exit {route.rc}"})
    else:
        facts["routes"] = [r.get("dst") for r in _ip_json(host, "ip -j route show dev %s", nic)]
    return facts


@pytest.mark.control(
    "SP-BLK-005",
    title="The dedicated data NIC is up with the designed MTU and carries the storage route",
    statement="Shared storage is served over a dedicated data network with dedicated NICs on the compute hosts.",
)
@pytest.mark.readonly
def test_data_nic_up_with_designed_mtu_and_route(cloud, hosts, data_network) -> None:
    nic = data_network.nic
    checked = _hosts_to_check(cloud, hosts, data_network)
    expect(bool(checked), "no compute host to check", expected="nova-compute hosts in the inventory",
           found=hosts.roles(), where="target hosts")
    subnet = ipaddress.ip_network(data_network.subnet, strict=False) if data_network.subnet else None
    seen = hosts.each(checked, lambda item: _facts(item[1], nic, data_network))
    for (described, _host, conf), facts in zip(checked, seen, strict=True):
        where = f"{described}, interface {nic}"
        expect(facts["exists"], f"data NIC {nic} does not exist", expected=f"interface {nic}",
               found=f"interfaces {sorted(facts.get('names', []))}", where=where)
        flags, state, mtu = facts["flags"], facts["state"], facts["mtu"]
        expect("UP" in flags and state == "UP", f"data NIC {nic} is down",
               expected="operstate=UP, flags include UP", found=f"operstate={state}, flags={','.join(flags)}",
               where=where)
        expect(mtu == data_network.mtu, f"data NIC {nic} has MTU {mtu}, not the designed {data_network.mtu}",
               expected=f"mtu={data_network.mtu}", found=f"mtu={mtu}", where=where)
        addresses = facts["addresses"]
        if subnet is not None:
            expect(any(a.ip in subnet for a in addresses), f"data NIC {nic} has no address in the storage "
                   f"subnet {subnet}", expected=f"an address in {subnet}",
                   found=f"addresses {[str(a) for a in addresses]}", where=where)
        if data_network.storage_target:
            route = facts["route"]
            expect(route.get("dev") == nic, f"the route to the storage target {data_network.storage_target} "
                   f"does not use the data NIC {nic}", expected=f"dev {nic}",
                   found=route.get("error") or (f"dev {route.get('dev')}, via {route.get('gateway', 'direct')}, "
                                                f"src {route.get('prefsrc')}"),
                   where=f"{where}, ip route get {data_network.storage_target}")
        elif subnet is not None:
            expect(str(subnet) in facts["routes"], f"no route to the storage subnet {subnet} through {nic}",
                   expected=f"route {subnet} dev {nic}", found=f"routes via {nic}: {facts['routes']}", where=where)
        defaults = facts["defaults"]
        expect(nic not in defaults, f"data NIC {nic} carries the default route: it is the management NIC",
               expected=f"default route via another NIC than {nic}", found=f"default via {defaults}", where=where)
        if conf is not None:
            my_ip = conf.get("DEFAULT", "my_ip", fallback="").strip()
            expect(my_ip not in {str(a.ip) for a in addresses}, f"data NIC {nic} holds nova's my_ip "
                   f"{my_ip}: it is the management NIC", expected=f"my_ip on another NIC than {nic}",
                   found=f"{nic} addresses {[str(a) for a in addresses]}", where=where)
