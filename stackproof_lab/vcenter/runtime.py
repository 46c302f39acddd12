"""What the lab vCenter is at run time: its identity, credentials, files and command line.

Its clients (nova, cinder, the lab's faults, the target file) read these; how it is built is build.py's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# What the lab's clients need to know; nova names its node
# "<cluster moid>.<vCenter instance UUID>", so the UUID is pinned.
INSTANCE_UUID = "5a1d0e2c-7c3b-4b8e-9f11-57ac4f00b001"
USER_ENV = "STACKPROOF_VCENTER_USER"
PASSWORD_ENV = "STACKPROOF_VCENTER_PASSWORD"
DEFAULT_USER = "administrator@vsphere.local"
# Not a secret: the simulator only listens on loopback or inside a lab host. The lab
# overrides it with the environment variable above.
DEFAULT_PASSWORD = "stackproof-lab"

USER = DEFAULT_USER


def runtime_dir(state_dir: Path) -> Path:
    """Where the running server keeps its files."""
    return Path(state_dir) / "vcenter"


def ca_file(state_dir: Path) -> Path:
    """The CA certificate to verify the server with (nova's ca_file)."""
    return runtime_dir(state_dir) / "vcenter-ca.pem"


def endpoint_file(state_dir: Path) -> Path:
    """JSON the server writes once it answers: url, port, ca_file, ..."""
    return runtime_dir(state_dir) / "vcenter.json"


def credentials() -> tuple[str, str]:
    """The user and password the server accepts (from the environment)."""
    return (os.environ.get(USER_ENV) or DEFAULT_USER,
            os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD)


def read_endpoint(state_dir: Path) -> dict[str, Any] | None:
    """The running server's endpoint, or None when it is not up."""
    try:
        endpoint = json.loads(endpoint_file(state_dir).read_text())
    except (OSError, ValueError):
        return None
    return endpoint if isinstance(endpoint, dict) else None


def command(binary: Path, state_dir: Path, port: int, address: str = "127.0.0.1") -> list[str]:
    """The argv that starts the lab vCenter on https://ADDRESS:PORT/sdk (loopback, or an address of a
    documentation range inside a lab host; its certificate names that address).

    The password is not on the command line: the process reads it from
    STACKPROOF_VCENTER_PASSWORD (default: DEFAULT_PASSWORD).
    """
    return [
        str(binary),
        "-listen", f"{address}:{port}",
        "-state-dir", str(runtime_dir(state_dir)),
        "-wsdl-dir", str(Path(state_dir) / "vcenter-build" / "wsdl"),
        "-instance-uuid", INSTANCE_UUID,
    ]
