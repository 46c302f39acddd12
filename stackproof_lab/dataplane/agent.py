"""The lab's NSX node agent: one per transport node (each compute, and the edge), as NSX runs its agents on every
host it prepares. Every ``interval`` seconds it reads what its node must carry (state.py) and makes it real
(realize.py); what it could not make it logs and tries again on the next turn.

    python -m stackproof_lab.dataplane.agent --config /etc/nsx/node-agent.ini

The config (configs/dataplane.py renders it) names the node, its TEP and the other TEPs, whether it is the edge
(and where nova's metadata API is, for the edge's metadata proxies), the turn's interval and whether it enforces
the firewall (a lab fault turns that off).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from stackproof_lab import passwords
from stackproof_lab.configs import dataplane as dataplane_config
from stackproof_lab.dataplane import state
from stackproof_lab.dataplane.realize import Node
from stackproof_lab.errors import LabError
from stackproof_lab.nsx import lab as nsx_lab
from stackproof_lab.rest import Cloud

LOG = logging.getLogger("nsx-node-agent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackproof_lab.dataplane.agent",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loaded = dataplane_config.load(args.config)
    if loaded is None:
        print(f"nsx-node-agent: cannot read {args.config}", file=sys.stderr)
        return 2
    conf, layout = loaded
    agent, overlay = conf["agent"], conf["overlay"]
    node_name, edge = agent["node"], agent.getboolean("edge", False)
    interval, enforce = agent.getfloat("interval", 1.0), agent.getboolean("enforce_firewall", True)
    proxy = (sys.executable, "-m", "stackproof_lab.dataplane.metadata_proxy", "--config", str(args.config.resolve()))
    node = Node(overlay["local_tep"], tuple(t for t in overlay.get("remote_teps", "").split(",") if t),
                overlay.get("external_bridge") or None, proxy, overlay.get("integration_bridge") or None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    neutron = Cloud(layout, "admin", passwords.load(layout)["admin"])
    nsx = nsx_lab.client(layout)
    node.reset()
    LOG.info("node %s (edge: %s): TEP %s, peers %s, every %.1f s, firewall %s", node_name, edge, node.local_tep,
             ", ".join(node.remote_teps), interval, "enforced" if enforce else "NOT ENFORCED (lab fault)")
    last_notes: tuple[str, ...] = ()
    while True:
        started = time.monotonic()
        try:
            desired = state.read(neutron, nsx, node_name, edge=edge, enforce=enforce)
        except LabError as exc:
            LOG.warning("cannot read the desired state: %s", exc)
        else:
            problems = node.apply(desired) + state.reserve_dhcp_ports(neutron, node_name, desired.dhcp_ports_wanted)
            for problem in problems:
                LOG.error("%s", problem)
            if desired.notes != last_notes:
                for note in desired.notes:
                    LOG.info("%s", note)
                last_notes = desired.notes
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
