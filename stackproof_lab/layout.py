"""Where the lab keeps things: the state directory, its sub-folders, and the loopback ports.

Everything the lab writes lives under one state directory (``$STACKPROOF_LAB_DIR`` or ``<repo>/.lab``)
so that ``rm -rf`` of it after ``down`` is a complete reset. Ports are fixed offsets from one base
(``$STACKPROOF_LAB_PORT_BASE``, default 26000) in a high range, so nothing clashes with system services
and the same lab always answers on the same URLs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB_PACKAGE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 26000

# Offsets from the port base. +13..+49 other than +20 are left for later lab parts (lab hosts).
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
    # Each VMware compute's own path to it (stackproof_lab/vcenter_link.py), which a fault can cut.
    "vcenter-link-vmware-1": 11,
    "vcenter-link-vmware-2": 12,
    "nsx-manager": 20,  # the lab NSX manager (stackproof_lab/nsx), HTTPS
}


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one lab instance."""

    state: Path
    port_base: int

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

    def port(self, name: str) -> int:
        return self.port_base + PORT_OFFSETS[name]

    def url(self, name: str, path: str = "") -> str:
        return f"http://{HOST}:{self.port(name)}{path}"

    def ensure_dirs(self) -> None:
        for folder in (self.state, self.etc, self.logs, self.run, self.data, self.images):
            folder.mkdir(parents=True, exist_ok=True)
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
        from stackproof_lab.errors import LabError

        raise LabError(f"STACKPROOF_LAB_PORT_BASE={raw_base!r} is not a port number") from None
    if not 1024 <= base <= 65000:
        from stackproof_lab.errors import LabError

        raise LabError(f"STACKPROOF_LAB_PORT_BASE={base} is outside 1024..65000")
    return Layout(state=state, port_base=base)
