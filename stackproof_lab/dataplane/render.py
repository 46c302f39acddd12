"""What a node's programs are given: nftables text for a VIF's distributed firewall and a router's NAT, and the
command line of a network's DHCP server.

The firewall sits at the VIF, in the instance's namespace, on the input and output hooks: this kernel has no
conntrack for the bridge family (``ct state`` in a bridge table is refused), and a distributed firewall without
state would drop the replies of allowed flows. Each table is replaced whole and atomically (``nft -f``: the
table is declared, deleted and declared again in one transaction), so a rule change never opens a gap.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from stackproof_lab.dataplane.metadata_proxy import METADATA_ADDRESS
from stackproof_lab.dataplane.state import DhcpServer, Router, Vif

FIREWALL_TABLE = "nsx_dfw"
NAT_TABLE = "nsx_nat"
VERDICT = {"ALLOW": "accept", "DROP": "drop", "REJECT": "reject"}


def _replace(family: str, table: str, body: list[str]) -> str:
    return "\n".join([f"table {family} {table} {{}}", f"delete table {family} {table}", f"table {family} {table} {{",
                      *body, "}", ""])


def _service_matches(service: dict[str, Any]) -> list[str] | None:
    """nft matches for one service entry (None: a protocol this renderer cannot express, the rule is left out)."""
    protocol = service.get("protocol")
    if protocol in ("tcp", "udp"):
        ports = service.get("ports") or []
        dport = f" {protocol} dport {{ {', '.join(p for p in ports)} }}" if ports else ""
        return [f"meta l4proto {protocol}{dport}"]
    if protocol == "icmp":
        match = "meta l4proto icmp"
        if service.get("icmp_type") is not None:
            match += f" icmp type {int(service['icmp_type'])}"
            if service.get("icmp_code") is not None:
                match += f" icmp code {int(service['icmp_code'])}"
        return [match]
    if protocol == "icmpv6":
        return ["meta l4proto ipv6-icmp"]
    if protocol and protocol.isdigit():
        return [f"meta l4proto {int(protocol)}"]
    return None


def _rule_lines(entry: dict[str, Any], address_key: str) -> list[str]:
    """One nft rule per address family the entry covers (a remote group's addresses are split by family: an
    IPv6-only rule never matches an IPv4 address, and a family with no remote address matches nobody)."""
    verdict = VERDICT.get(entry.get("action", "ALLOW"), "drop")
    families = {"IPV4": ("ip",), "IPV6": ("ip6",)}.get(entry.get("ip_protocol"), ("ip", "ip6"))
    remote = entry.get("remote")
    wheres = []
    for family in families:
        if remote is None:
            wheres.append("" if len(families) == 2 else f"meta nfproto {'ipv4' if family == 'ip' else 'ipv6'} ")
            continue
        addresses = [a for a in remote if (":" in a) == (family == "ip6")]
        if addresses:
            wheres.append(f"{family} {address_key} {{ {', '.join(addresses)} }} ")
    services = entry.get("services")
    matches = [""] if services is None else [m for s in services for m in (_service_matches(s) or [])]
    return [f"    {where}{match} {verdict}".replace("  ", " ").rstrip()
            for where in dict.fromkeys(wheres) for match in matches]


def firewall(vif: Vif) -> str:
    """The VIF's firewall: replies of allowed flows, then NSX's rules in order (the first match decides), then what
    NSX does when no rule matches: allow. No firewall (port security off): everything passes."""
    chains = []
    for hook, direction, address_key in (("input", "IN", "saddr"), ("output", "OUT", "daddr")):
        lines = [f"  chain {hook} {{", f"    type filter hook {hook} priority 0; policy accept;"]
        if vif.firewall is not None:
            lines += ["    iifname \"lo\" accept" if hook == "input" else "    oifname \"lo\" accept",
                      "    ct state established,related accept", "    ct state invalid drop"]
            for entry in vif.firewall:
                if entry.get("direction") == direction:
                    lines += _rule_lines(entry, address_key)
        chains += [*lines, "  }"]
    return _replace("inet", FIREWALL_TABLE, chains)


def nat(router: Router) -> str:
    """The router's NAT: floating IPs both ways, then SNAT of its internal networks to its gateway address."""
    gateway = router.gateway.address.split("/")[0] if router.gateway else None
    pre = ["  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;"]
    post = ["  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;"]
    for floating, fixed in router.floating:
        pre.append(f"    ip daddr {floating} dnat to {fixed}")
        post.append(f"    ip saddr {fixed} oifname \"{router.gateway_device}\" snat to {floating}")
    if gateway:
        for cidr in router.snat:
            post.append(f"    ip saddr {cidr} oifname \"{router.gateway_device}\" snat to {gateway}")
    if gateway and router.floating:
        # Hairpin, as neutron's L3 agent does it: an internal host that reaches a floating IP behind this router
        # is translated to the gateway's address too, so the answer comes back through the router instead of
        # straight from the fixed address it never asked (a nested cloud's services reach their own public
        # endpoints this way). Traffic from outside keeps its source.
        device = router.gateway_device
        post.append(f"    ct status dnat iifname != \"{device}\" oifname != \"{device}\" snat to {gateway}")
    return _replace("ip", NAT_TABLE, [*pre, "  }", *post, "  }"])


def dnsmasq(server: DhcpServer, folder: Path) -> list[str]:
    """dnsmasq as a network's DHCP server: static leases only (its hosts file, one per instance port), the metadata
    route and the default route as classless routes (option 121, which a client prefers to the router option), the
    network's MTU (option 26), no DNS. It daemonizes and writes its pid file."""
    interface = ipaddress.ip_interface(server.address)
    routes = [f"{METADATA_ADDRESS}/32", str(interface.ip)]
    if server.gateway:
        routes += ["0.0.0.0/0", server.gateway]
    return [
        "dnsmasq", "--no-hosts", "--no-resolv", "--port=0", "--bind-interfaces", f"--interface={server.inner}",
        "--except-interface=lo", f"--pid-file={folder / 'dnsmasq.pid'}", f"--dhcp-hostsfile={folder / 'hosts'}",
        "--leasefile-ro", "--dhcp-authoritative", "--user=root", "--group=root",
        f"--dhcp-range={interface.network.network_address},static,{interface.network.netmask},infinite",
        f"--dhcp-option=option:classless-static-route,{','.join(routes)}",
        f"--dhcp-option=option:router{',' + server.gateway if server.gateway else ''}",
        f"--dhcp-option=option:mtu,{server.mtu}",
        "--log-dhcp", f"--log-facility={folder / 'dnsmasq.log'}",
    ]
