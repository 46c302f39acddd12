"""Passwords of one lab instance: made once, kept in the state dir (mode 0600), never printed."""

from __future__ import annotations

import json
import os
import secrets

from stackproof_lab.layout import Layout

SERVICE_USERS = ("glance", "placement", "nova", "neutron", "cinder")
# "metadata": the secret the edge's metadata proxy signs instance ids with, and nova checks them against.
NAMES = ("database", "admin", "member", *SERVICE_USERS, "vcenter", "rabbitmq", "nsx", "metadata")


def load(layout: Layout) -> dict[str, str]:
    """Every password of the lab, by name.

    A name added in a later lab version (e.g. RabbitMQ's) gets its password on the next call; the
    existing ones never change, since the databases and Keystone already hold them.
    """
    try:
        values: dict[str, str] = json.loads(layout.secrets_file.read_text())
    except FileNotFoundError:
        values = {}
    missing = [name for name in NAMES if name not in values]
    if missing:
        values.update({name: secrets.token_urlsafe(18) for name in missing})
        layout.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = layout.secrets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(values, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(layout.secrets_file)
    return values
