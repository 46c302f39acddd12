"""How the lab runs its NSX manager: its command line, environment and health, and the lab's client for it
(the design values and paths are in ``design``).

The service itself is declared in ``stackproof_lab/services.py`` (one entry, in the controller host) and its port
in ``layout.py``.
"""

from __future__ import annotations

import json

from stackproof_lab import passwords
from stackproof_lab.layout import REPO, Layout
from stackproof_lab.nsx import design, server
from stackproof_lab.nsx.api import NsxApi


def password(layout: Layout) -> str:
    return passwords.load(layout)[design.SECRET]


def argv(layout: Layout) -> list[str]:
    # The lab venv's Python: the manager makes its certificates with `cryptography`, which comes with the
    # OpenStack services (the suite's Python that runs the lab may not have it).
    return [str(layout.venv_bin / "python"), "-m", "stackproof_lab.nsx.server",
            "--state-dir", str(design.state_dir(layout)), "--listen", f"{layout.controller}:{layout.port(design.PORT)}",
            "--overlay-tz", f"{design.OVERLAY_TZ_ID}:{design.OVERLAY_TZ}",
            "--vlan-tz", f"{design.VLAN_TZ_ID}:{design.VLAN_TZ}",
            *(["--published", layout.published] if layout.published else [])]


def env(layout: Layout) -> dict[str, str]:
    """Credentials in the environment (never on a command line), and the lab package importable."""
    return {server.USER_ENV: design.USER, server.PASSWORD_ENV: password(layout), "PYTHONPATH": str(REPO)}


def client(layout: Layout) -> NsxApi:
    return NsxApi(design.url(layout, public=True), design.USER, password(layout), design.ca_file(layout))


def answers(layout: Layout, pids: tuple[int, ...]) -> bool:
    """Health: the endpoint file names this process (by one of ``pids``: as the root namespace and as its host
    see it; a stale file from a killed server names another) and the API answers its health call over HTTPS
    verified with the lab NSX CA, with the lab's credentials."""
    try:
        endpoint = json.loads((design.state_dir(layout) / server.ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return False
    return endpoint.get("pid") in pids and client(layout).healthy()
