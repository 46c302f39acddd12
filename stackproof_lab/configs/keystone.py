"""keystone.conf of the controller."""

from __future__ import annotations

from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import db_url
from stackproof_lab.layout import Layout


def keystone(layout: Layout, password: dict[str, str]) -> Sections:
    keys = layout.data / "keystone"
    return {
        "DEFAULT": {"debug": False},
        "database": {"connection": db_url(layout, password, "keystone")},
        # bcrypt's minimum cost: bootstrap and every auth stay fast on 2 cores (lab only).
        "identity": {"password_hash_rounds": 4},
        "fernet_tokens": {"key_repository": str(keys / "fernet-keys")},
        "fernet_receipts": {"key_repository": str(keys / "fernet-keys")},
        "credential": {"key_repository": str(keys / "credential-keys")},
        "token": {"provider": "fernet", "expiration": 14400},
        # Every API validates every request's token with keystone; an in-process cache (one keystone
        # worker, so it is coherent) halves keystone's CPU during bring-up on 2 cores.
        "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
    }
