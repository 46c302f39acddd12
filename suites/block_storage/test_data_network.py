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


def _roles(hosts, data_network) -> list[str]:
    return list(data_network.roles) or [role for role in hosts.roles() if role.startswith("compute-")]


@pytest.mark.control(
    "SP-BLK-005",
    title="The dedicated data NIC is up with the designed MTU and carries the storage route",
    statement="Shared storage is served over a dedicated data network with dedicated NICs on the compute hosts.",
)
@pytest.mark.readonly
def test_data_nic_up_with_designed_mtu_and_route(hosts, target, data_network) -> None:
    nic = data_network.nic
    roles = _roles(hosts, data_network)
    expect(bool(roles), "no compute host role to check", expected="architecture.data_network.roles or compute-* "
           "roles", found=hosts.roles(), where="target hosts")
    subnet = ipaddress.ip_network(data_network.subnet, strict=False) if data_network.subnet else None
    for role in roles:
        for host in hosts.of(role):
            where = f"role {role}, host {host.backend.get_hostname()}, interface {nic}"
            interface = host.interface(nic)
            expect(interface.exists, f"data NIC {nic} does not exist", expected=f"interface {nic}",
                   found=f"interfaces {sorted(host.interface.names())}", where=where)
            link = _ip_json(host, "ip -j link show dev %s", nic)[0]
            flags, state, mtu = link.get("flags", []), link.get("operstate"), link.get("mtu")
            expect("UP" in flags and state == "UP", f"data NIC {nic} is down",
                   expected="operstate=UP, flags include UP", found=f"operstate={state}, flags={','.join(flags)}",
                   where=where)
            expect(mtu == data_network.mtu, f"data NIC {nic} has MTU {mtu}, not the designed {data_network.mtu}",
                   expected=f"mtu={data_network.mtu}", found=f"mtu={mtu}", where=where)
            addresses = [ipaddress.ip_interface(a) for a in interface.addresses]
            if subnet is not None:
                expect(any(a.ip in subnet for a in addresses), f"data NIC {nic} has no address in the storage "
                       f"subnet {subnet}", expected=f"an address in {subnet}",
                       found=f"addresses {[str(a) for a in addresses]}", where=where)
            if data_network.storage_target:
                route = _ip_json(host, "ip -j route get %s", data_network.storage_target)[0]
                expect(route.get("dev") == nic, f"the route to the storage target {data_network.storage_target} "
                       f"does not use the data NIC {nic}", expected=f"dev {nic}",
                       found=f"dev {route.get('dev')}, via {route.get('gateway', 'direct')}, "
                             f"src {route.get('prefsrc')}",
                       where=f"{where}, ip route get {data_network.storage_target}")
            elif subnet is not None:
                routes = [r.get("dst") for r in interface.routes()]
                expect(str(subnet) in routes, f"no route to the storage subnet {subnet} through {nic}",
                       expected=f"route {subnet} dev {nic}", found=f"routes via {nic}: {routes}", where=where)
            defaults = [r.get("dev") for r in _ip_json(host, "ip -j route show default")]
            expect(nic not in defaults, f"data NIC {nic} carries the default route: it is the management NIC",
                   expected=f"default route via another NIC than {nic}", found=f"default via {defaults}", where=where)
            if "nova" in target.hosts[role].config:
                for _host, conf in hosts.config(role, "nova"):
                    my_ip = conf.get("DEFAULT", "my_ip", fallback="").strip()
                    expect(my_ip not in {str(a.ip) for a in addresses}, f"data NIC {nic} holds nova's my_ip "
                           f"{my_ip}: it is the management NIC", expected=f"my_ip on another NIC than {nic}",
                           found=f"{nic} addresses {[str(a) for a in addresses]}", where=where)
