"""/etc/nsx/node-agent.ini of each transport node: what the lab's NSX node agent (stackproof_lab/dataplane) carries."""

from __future__ import annotations

import configparser
from pathlib import Path

from stackproof_lab import topology
from stackproof_lab.configs.ini import Sections
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import design as nsx_design

CONF = "/etc/nsx/node-agent.ini"
# Seconds between two turns of an agent: well inside the enforcement bound the target sets (SP-NSX-008), and
# five agents reading Neutron and NSX once a second is load the lab carries.
INTERVAL = 1.0


def node_agent(layout: Layout, host: str) -> Sections:
    me = topology.TOPOLOGY.get(host)
    peers = [h.tunnel_address(layout) for h in topology.TOPOLOGY.transport_nodes if h.name != host]
    edge = host == topology.EDGE
    return {
        "lab": {"state_dir": str(layout.state), "port_base": layout.port_base},
        "agent": {"node": host, "edge": edge, "interval": INTERVAL, "enforce_firewall": True},
        "overlay": {"local_tep": me.tunnel_address(layout), "remote_teps": ",".join(peers),
                    **({"external_bridge": topology.EXTERNAL_BRIDGE} if edge else {}),
                    # A KVM transport node's VIFs are on the NSX-managed Open vSwitch bridge (nova's ovs_bridge).
                    **({"integration_bridge": nsx_design.KVM_BRIDGE} if "compute-kvm" in me.roles else {})},
        # Where the edge's metadata proxies send the guests' requests: nova's metadata API (nova-api-metadata).
        "metadata": {"url": layout.url("nova-metadata")},
    }


def load(path: Path) -> tuple[configparser.ConfigParser, Layout] | None:
    """A node agent's config, as read by the agent and the edge's metadata proxies, with the lab it names (None:
    unreadable)."""
    conf = configparser.ConfigParser()
    if not conf.read(path):
        return None
    return conf, Layout(state=Path(conf["lab"]["state_dir"]), port_base=conf["lab"].getint("port_base"))
