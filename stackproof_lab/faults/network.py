"""Faults on the lab hosts' networks: a data NIC down or at another MTU, a firewall rule on a host (to the vCenter,
or between transport nodes' tunnel endpoints)."""

from __future__ import annotations

from dataclasses import dataclass

from stackproof_lab import hostnet, topology
from stackproof_lab.faults.base import Action, Lab, NicStates
from stackproof_lab.layout import Layout

FIREWALL_TABLE = "stackproof-fault"


@dataclass(frozen=True)
class DataNicChange(Action):
    """Put compute hosts' data NIC in another state (down, another MTU); clear makes it as designed."""

    hosts: tuple[str, ...]
    up: bool = True
    mtu: int = topology.DATA_MTU

    def inject(self, lab: Lab) -> str:
        lab.converge(["hosts"])
        return ", ".join(f"{h}: {topology.DATA_NIC} {'up' if self.up else 'down'}, mtu {self.mtu}"
                         for h in self.hosts)

    def clear(self, lab: Lab) -> str:
        lab.converge(["hosts"])
        return f"{', '.join(self.hosts)}: {topology.DATA_NIC} as the faults in force want it"

    def data_nics(self) -> NicStates:
        return {host: {"up": self.up, "mtu": self.mtu} for host in self.hosts}


def vcenter_cut_commands(layout: Layout) -> tuple[str, str]:
    """The shell commands an operator runs on a compute to cut its path to the vCenter and to restore it: an
    nftables rule in the host's own network namespace rejecting its connections to the vCenter's port."""
    rule = f"ip daddr {layout.controller} tcp dport {layout.port('vcenter')} reject with tcp reset"
    cut = (f"nft add table inet {FIREWALL_TABLE} && "
           f"nft add chain inet {FIREWALL_TABLE} output "
           f"'{{ type filter hook output priority 0; policy accept; }}' && "
           f"nft flush chain inet {FIREWALL_TABLE} output && "
           f"nft add rule inet {FIREWALL_TABLE} output {rule}")
    restore = (f"if nft list table inet {FIREWALL_TABLE} >/dev/null 2>&1; then "
               f"nft delete table inet {FIREWALL_TABLE}; fi")
    return cut, restore


@dataclass(frozen=True)
class VCenterCut(Action):
    """A firewall rule on a VMware compute host rejects its connections to the vCenter (a partition: the
    vCenter and every other client carry on). nova's driver on it cannot reach vCenter and disables its
    service; clear deletes the rule and nova lifts the disable by itself."""

    host: str

    def inject(self, lab: Lab) -> str:
        cut, _ = vcenter_cut_commands(lab.layout)
        hostnet.run_in(lab.layout, self.host, ["sh", "-c", cut])
        return f"{self.host}: nft table inet {FIREWALL_TABLE} rejects {lab.layout.controller}:" \
               f"{lab.layout.port('vcenter')}"

    def clear(self, lab: Lab) -> str:
        _, restore = vcenter_cut_commands(lab.layout)
        hostnet.run_in(lab.layout, self.host, ["sh", "-c", restore])
        return f"{self.host}: nft table inet {FIREWALL_TABLE} deleted"

    def after_hosts_start(self, lab: Lab) -> str:
        return self.inject(lab)

    def suppressed(self) -> tuple[str, ...]:
        # A VMware nova-compute dies at start when vCenter does not answer: while the path is cut, `up`
        # leaves it as it is (running and disabled, or stopped).
        return (f"nova-compute-{self.host}",)


TUNNEL_TABLE = "stackproof-fault-tep"


@dataclass(frozen=True)
class TunnelBlocked(Action):
    """A firewall on transport nodes ``hosts`` drops the overlay's tunnel traffic (VXLAN, udp/4789) to and from the
    TEPs of ``peers``, as a firewall between two clusters' TEP networks that lets Geneve/VXLAN through to the edge
    only: each side still reaches the edge (floating IPs work), the two sides no longer reach each other."""

    hosts: tuple[str, ...]
    peers: tuple[str, ...]

    def _commands(self) -> tuple[str, str]:
        teps = ", ".join(topology.TOPOLOGY.get(peer).tep_address() for peer in self.peers)
        table = f"inet {TUNNEL_TABLE}"
        block = "; ".join([
            f"nft add table {table}",
            f"nft 'add chain {table} output {{ type filter hook output priority 0; policy accept; }}'",
            f"nft 'add chain {table} input {{ type filter hook input priority 0; policy accept; }}'",
            f"nft flush table {table}",
            f"nft 'add rule {table} output ip daddr {{ {teps} }} udp dport {topology.VXLAN_PORT} drop'",
            f"nft 'add rule {table} input ip saddr {{ {teps} }} udp dport {topology.VXLAN_PORT} drop'",
        ])
        restore = f"if nft list table {table} >/dev/null 2>&1; then nft delete table {table}; fi"
        return f"set -e; {block}", restore

    def inject(self, lab: Lab) -> str:
        block, _ = self._commands()
        for host in self.hosts:
            hostnet.run_in(lab.layout, host, ["sh", "-c", block])
        return f"{', '.join(self.hosts)}: nft table inet {TUNNEL_TABLE} drops udp/{topology.VXLAN_PORT} with the " \
               f"TEPs of {', '.join(self.peers)}"

    def clear(self, lab: Lab) -> str:
        _, restore = self._commands()
        for host in self.hosts:
            hostnet.run_in(lab.layout, host, ["sh", "-c", restore])
        return f"{', '.join(self.hosts)}: nft table inet {TUNNEL_TABLE} deleted"

    def after_hosts_start(self, lab: Lab) -> str:
        return self.inject(lab)
