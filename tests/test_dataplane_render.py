"""The lab's NSX node agent writes what NSX computes into nftables: a VIF's firewall (replies of allowed flows,
then NSX's rules in order, an empty remote group matching nobody) and a router's NAT; `nft --check` accepts both."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stackproof_lab.dataplane import render
from stackproof_lab.dataplane.state import Router, RouterPort, Vif

SSH = {"direction": "IN", "action": "ALLOW", "ip_protocol": "IPV4", "remote": ["0.0.0.0/0"],
       "services": [{"protocol": "tcp", "ports": ["22"]}]}
NOBODY = {"direction": "IN", "action": "ALLOW", "ip_protocol": "IPV4", "remote": [], "services": None}
PING = {"direction": "IN", "action": "ALLOW", "ip_protocol": "IPV4", "remote": ["203.0.113.5/32"],
        "services": [{"protocol": "icmp", "icmp_type": 8, "icmp_code": None}]}
EGRESS = {"direction": "OUT", "action": "ALLOW", "ip_protocol": "IPV4", "remote": None, "services": None}
BLOCK = [{"direction": d, "action": "DROP", "ip_protocol": "IPV4_IPV6", "remote": None, "services": None}
         for d in ("IN", "OUT")]


def vif(rules) -> Vif:
    return Vif("6992918d-f42c-44d2-b820-bec8324ee6fc", "fa:16:3e:2c:bc:70", ("203.0.113.92/24",), 65538, 1500,
               rules)


def chain(text: str, name: str) -> list[str]:
    body = text.split(f"chain {name} {{", 1)[1].split("\n  }", 1)[0]
    return [line.strip() for line in body.strip().splitlines()]


def test_rules_render_in_order_after_the_replies_of_allowed_flows() -> None:
    text = render.firewall(vif((SSH, NOBODY, PING, EGRESS, *BLOCK)))
    assert chain(text, "input") == [
        "type filter hook input priority 0; policy accept;", 'iifname "lo" accept',
        "ct state established,related accept", "ct state invalid drop",
        "ip saddr { 0.0.0.0/0 } meta l4proto tcp tcp dport { 22 } accept",
        "ip saddr { 203.0.113.5/32 } meta l4proto icmp icmp type 8 accept",
        "drop"]
    assert chain(text, "output")[-2:] == ["meta nfproto ipv4 accept", "drop"]
    # The table is replaced in one transaction: declared, deleted, declared again.
    assert text.startswith("table inet nsx_dfw {}\ndelete table inet nsx_dfw\ntable inet nsx_dfw {")


def test_a_remote_group_rule_matches_each_family_with_its_own_addresses() -> None:
    """The default group's rules: from its members, once for IPv4 and once for IPv6; the members have IPv4
    addresses only, so the IPv6 rule matches nobody and is left out (nft refuses `ip6` with `ip saddr`)."""
    members = ["203.0.113.34/32", "203.0.113.52/32"]
    rules = [{"direction": "IN", "action": "ALLOW", "ip_protocol": family, "remote": members, "services": None}
             for family in ("IPV4", "IPV6")]
    rules.append({"direction": "IN", "action": "ALLOW", "ip_protocol": "IPV4_IPV6",
                  "remote": ["2001:db8::5/128", "203.0.113.9/32"], "services": None})
    assert chain(render.firewall(vif(tuple(rules))), "input")[4:] == [
        "ip saddr { 203.0.113.34/32, 203.0.113.52/32 } accept",
        "ip saddr { 203.0.113.9/32 } accept", "ip6 saddr { 2001:db8::5/128 } accept"]


def test_a_port_without_port_security_has_no_filter() -> None:
    text = render.firewall(vif(None))
    assert chain(text, "input") == ["type filter hook input priority 0; policy accept;"]


def test_a_router_translates_floating_ips_both_ways_its_networks_and_hairpins_to_its_gateway() -> None:
    router = Router("80d72619", (RouterPort("40517bbb-25aa", "fa:16:3e:1f:38:9e", "203.0.113.1/24", 65538),),
                    RouterPort("1c71ac91-30bb", "fa:16:3e:22:1b:42", "198.51.100.53/27", None), "198.51.100.33",
                    ("203.0.113.0/24",), (("198.51.100.44", "203.0.113.92"),))
    text = render.nat(router)
    assert "ip daddr 198.51.100.44 dnat to 203.0.113.92" in chain(text, "prerouting")
    assert chain(text, "postrouting")[1:] == [
        'ip saddr 203.0.113.92 oifname "qg-1c71ac91-30" snat to 198.51.100.44',
        'ip saddr 203.0.113.0/24 oifname "qg-1c71ac91-30" snat to 198.51.100.53',
        # hairpin: an internal host reaching a floating IP gets its answer back through the router
        'ct status dnat iifname != "qg-1c71ac91-30" oifname != "qg-1c71ac91-30" snat to 198.51.100.53']


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian's nftables) is not installed here")
@pytest.mark.parametrize("text", [render.firewall(vif((SSH, NOBODY, PING, EGRESS, *BLOCK, {
    "direction": "IN", "action": "ALLOW", "ip_protocol": "IPV6", "remote": ["2001:db8::5/128"], "services": None}))),
    render.nat(Router(
    "r", (), RouterPort("g", "fa:16:3e:00:00:01", "198.51.100.53/27", None), None, ("203.0.113.0/24",),
    (("198.51.100.44", "203.0.113.92"),)))], ids=["firewall", "nat"])
def test_nft_accepts_what_is_rendered(text: str) -> None:
    result = subprocess.run(["nft", "--check", "-f", "-"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
