"""What every OpenStack service's config shares: database and message bus URLs, keystone sections."""

from __future__ import annotations

from stackproof_lab.layout import Layout

REGION = "RegionOne"
# Heartbeats short enough that a killed compute shows down within seconds (lab-notes).
REPORT_INTERVAL = 2
SERVICE_DOWN_TIME = 10
RABBIT_USER = "lab"


def db_url(layout: Layout, password: dict[str, str], name: str) -> str:
    return f"mysql+pymysql://lab:{password['database']}@{layout.controller}:{layout.port('mariadb')}/{name}?charset=utf8"


def transport_url(layout: Layout, password: dict[str, str]) -> str:
    return f"rabbit://{RABBIT_USER}:{password['rabbitmq']}@{layout.controller}:{layout.port('rabbitmq')}/"


def auth(layout: Layout, password: dict[str, str], user: str, **extra: object) -> dict[str, object]:
    """A keystoneauth password section for service user ``user`` in project ``service``."""
    return {
        "auth_url": layout.url("keystone", "/v3"),
        "auth_type": "password",
        "username": user,
        "password": password[user],
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
        **extra,
    }


def authtoken(layout: Layout, password: dict[str, str], user: str) -> dict[str, object]:
    return {
        "www_authenticate_uri": layout.url("keystone", "/v3"),
        **auth(layout, password, user),
        # Tokens from services (nova -> cinder, neutron -> nova) must carry the service role.
        "service_token_roles_required": True,
        "service_token_roles": "service",
    }


def lock(path: str) -> dict[str, object]:
    return {"lock_path": path}
