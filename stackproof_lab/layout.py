"""Where the lab keeps things: the state directory, its sub-folders, and the loopback ports.

Everything the lab writes lives under one state directory (``$STACKPROOF_LAB_DIR`` or ``<repo>/.lab``)
so that ``rm -rf`` of it after ``down`` is a complete reset. Ports are fixed offsets from one base
(``$STACKPROOF_LAB_PORT_BASE``, default 26000), on the controller host's management address; the port
base also picks the lab's management subnet (see topology.py), so two labs with different bases coexist.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from stackproof_lab.errors import LabError

REPO = Path(__file__).resolve().parent.parent
LAB_PACKAGE = Path(__file__).resolve().parent
DEFAULT_PORT_BASE = 26000

# Offsets from the port base. +11..+49 other than +20 and +21 are left for later lab parts.
PORT_OFFSETS = {
    "keystone": 0,
    "glance-api": 1,
    "placement-api": 2,
    "nova-api": 3,
    "neutron-api": 4,
    "cinder-api": 5,
    "mariadb": 6,
    "rabbitmq": 7,
    "rabbitmq-dist": 8,
    "epmd": 9,
    "vcenter": 10,  # the lab vCenter (stackproof_lab/vcenter), HTTPS
    "nsx-manager": 20,  # the lab NSX manager (stackproof_lab/nsx), HTTPS
    "nova-metadata": 21,  # nova's metadata API (nova-api-metadata), behind the edge's metadata proxy
}
# The management network: a /27 of 198.51.100.128/25 (RFC 5737) per lab, chosen by the port base. It is
# the one range the machine itself does not use: its own link is in 192.0.2.0/24 and the package registries
# answer at an address of 203.0.113.0/24; the lower half of 198.51.100.0/24 is left to older labs.
MGMT_RANGE = ipaddress.ip_network("198.51.100.128/25")
MGMT_PREFIX = 27
# The external network (floating IPs, routers' gateways): a /27 of the lower half, by the same index.
EXTERNAL_RANGE = ipaddress.ip_network("198.51.100.0/25")


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one lab instance."""

    state: Path
    port_base: int
    # Where the runner reaches the controller's APIs when that is not the controller's own address: a lab placed
    # inside another cloud's instances (the overcloud, nested.py) publishes them on a floating IP.
    published: str | None = None

    @property
    def venv(self) -> Path:
        return self.state / "venv"

    @property
    def venv_bin(self) -> Path:
        return self.venv / "bin"

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def data(self) -> Path:
        return self.state / "data"

    @property
    def images(self) -> Path:
        return self.state / "images"

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    @property
    def target_yaml(self) -> Path:
        return self.state / "stackproof.yaml"

    @property
    def secrets_file(self) -> Path:
        return self.state / "secrets.json"

    @property
    def secure_yaml(self) -> Path:
        return self.state / "secure.yaml"

    @property
    def faults_file(self) -> Path:
        return self.state / "faults.json"

    @property
    def mariadb_socket(self) -> Path:
        return self.run / "mariadb.sock"

    @property
    def hosts(self) -> Path:
        return self.state / "hosts"

    @property
    def ssh(self) -> Path:
        return self.state / "ssh"

    def port(self, name: str) -> int:
        return self.port_base + PORT_OFFSETS[name]

    def _slot(self, whole: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        slots = 2 ** (MGMT_PREFIX - whole.prefixlen)
        first = whole.network_address + ((self.port_base // 1000) % slots) * 2 ** (32 - MGMT_PREFIX)
        return ipaddress.ip_network(f"{first}/{MGMT_PREFIX}")

    @property
    def mgmt_network(self) -> ipaddress.IPv4Network:
        return self._slot(MGMT_RANGE)

    @property
    def external_network(self) -> ipaddress.IPv4Network:
        return self._slot(EXTERNAL_RANGE)

    def mgmt_address(self, index: int) -> str:
        """Address ``index`` of the management subnet: 1 is the runner (the root namespace), 2 the controller."""
        return str(self.mgmt_network.network_address + index)

    @property
    def controller(self) -> str:
        """Where the control plane (APIs, MariaDB, RabbitMQ, the lab vCenter) listens."""
        return self.mgmt_address(2)

    @property
    def reached(self) -> str:
        """Where the runner, and the lab's own commands, reach the control plane."""
        return self.published or self.controller

    def url(self, name: str, path: str = "") -> str:
        """A service's URL on the controller's own address: what the lab's services use among themselves."""
        return f"http://{self.controller}:{self.port(name)}{path}"

    def public_url(self, name: str, path: str = "") -> str:
        """A service's URL where the runner reaches it: the catalogue's public endpoints, the lab's own calls."""
        return f"http://{self.reached}:{self.port(name)}{path}"

    @property
    def placement_file(self) -> Path:
        """Where a lab placed inside another cloud finds its hosts' places and published address (nested.py)."""
        return self.state / "placement.json"

    def ensure_dirs(self) -> None:
        for folder in (self.state, self.etc, self.logs, self.run, self.data, self.images, self.hosts):
            folder.mkdir(parents=True, exist_ok=True)
        self.ssh.mkdir(mode=0o700, exist_ok=True)
        # Keeps the default <repo>/.lab out of git without touching the repository's own .gitignore.
        ignore = self.state / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")


def current() -> Layout:
    """The layout chosen by the environment (state dir and port base)."""
    state = Path(os.environ.get("STACKPROOF_LAB_DIR") or REPO / ".lab").resolve()
    raw_base = os.environ.get("STACKPROOF_LAB_PORT_BASE", str(DEFAULT_PORT_BASE))
    try:
        base = int(raw_base)
    except ValueError:
        raise LabError(f"STACKPROOF_LAB_PORT_BASE={raw_base!r} is not a port number") from None
    if not 1024 <= base <= 65000:
        raise LabError(f"STACKPROOF_LAB_PORT_BASE={base} is outside 1024..65000")
    plain = Layout(state=state, port_base=base)
    return Layout(state=state, port_base=base, published=_published(plain.placement_file))


def _published(placement: Path) -> str | None:
    try:
        return json.loads(placement.read_text()).get("published")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(f"{placement} is unreadable ({exc}): `python -m stackproof_lab up --nested` writes it") from None
