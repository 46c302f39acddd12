"""placement.conf of the controller."""

from __future__ import annotations

from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import authtoken, db_url
from stackproof_lab.layout import Layout


def placement(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "placement_database": {"connection": db_url(layout, password, "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(layout, password, "placement"),
    }
