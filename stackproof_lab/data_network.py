"""The compute hosts' dedicated data NIC: a veth link in the root namespace that the storage route uses.

The architecture puts Block Storage on a dedicated data network with dedicated NICs on the compute hosts.
The lab's computes all run on this machine, so one link stands for the data NIC of every compute role:
``spdata0`` with the designed MTU and an address in a documentation range (RFC 5737), through which
``ip route get <storage target>`` goes. It is a veth pair because this kernel has no dummy driver; the peer
is only there to give the link a carrier (state UP) and holds no address.

``up`` makes the link exactly as designed, or as active faults say (down, another MTU); ``down`` removes it.
Both are idempotent.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, TypedDict

from stackproof_lab.errors import LabError

NIC = "spdata0"
PEER = "spdata0p"
MTU = 9000
SUBNET = "198.51.100.0/24"
ADDRESS = "198.51.100.2/24"
# An address on the data network standing for the storage array (never assigned: only routed to).
STORAGE_TARGET = "198.51.100.10"
ROLES = ("compute-kvm", "compute-vmware")
IP_TIMEOUT = 10


class NicState(TypedDict, total=False):
    up: bool
    mtu: int


DESIGNED: NicState = {"up": True, "mtu": MTU}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    except FileNotFoundError:
        raise LabError("the `ip` command (iproute2) is missing: the lab's data NIC needs it") from None
    if check and result.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def _link(name: str) -> dict[str, Any] | None:
    result = _ip("-j", "link", "show", name, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)[0]


def _addresses(name: str) -> set[str]:
    info = json.loads(_ip("-j", "addr", "show", "dev", name).stdout)
    return {f"{a['local']}/{a['prefixlen']}" for entry in info for a in entry.get("addr_info", [])
            if a.get("family") == "inet"}


def ensure(overrides: NicState | None = None) -> str:
    """Create the data NIC if missing and bring it to the designed state changed by `overrides`."""
    wanted: NicState = {**DESIGNED, **(overrides or {})}
    notes = []
    if _link(NIC) is None:
        _ip("link", "add", NIC, "type", "veth", "peer", "name", PEER)
        notes.append("created")
    _ip("link", "set", PEER, "up")
    _ip("link", "set", NIC, "mtu", str(wanted["mtu"]))
    if ADDRESS not in _addresses(NIC):
        _ip("addr", "add", ADDRESS, "dev", NIC)
    _ip("link", "set", NIC, "up" if wanted["up"] else "down")
    notes.append(f"{'up' if wanted['up'] else 'down'}, mtu {wanted['mtu']}, {ADDRESS}")
    return f"{NIC}: {', '.join(notes)}"


def remove() -> str:
    if _link(NIC) is None:
        return f"{NIC}: not present"
    _ip("link", "del", NIC)  # takes its peer with it
    return f"{NIC}: removed"


def description() -> dict[str, object]:
    """architecture.data_network of the lab's stackproof.yaml."""
    return {"nic": NIC, "mtu": MTU, "subnet": SUBNET, "storage_target": STORAGE_TARGET, "roles": list(ROLES)}
