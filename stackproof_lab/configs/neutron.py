"""neutron.conf and ml2_conf.ini of the controller."""

from __future__ import annotations

from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import auth, authtoken, db_url, lock, transport_url
from stackproof_lab.layout import Layout

# The NSX logical switch behind every lab network: the lab vCenter's opaque network sp-nsx-tenant has this
# opaqueNetworkId (passed to the vCenter with -opaque-network-id, and to the ML2 binder, which puts it in
# each port's vif_details as NSX does, so that nova's VMware driver backs the NIC with that network).
NSX_LOGICAL_SWITCH_ID = "6f2d3e4a-0b1c-4d5e-8f90-a1b2c3d4e5f6"
NSX_OPAQUE_NETWORK = "sp-nsx-tenant"


def neutron(layout: Layout, password: dict[str, str]) -> Sections:
    data = layout.data / "neutron"
    return {
        "DEFAULT": {
            "core_plugin": "ml2",
            "service_plugins": "",
            "auth_strategy": "keystone",
            "transport_url": transport_url(layout, password),
            "state_path": str(data),
            "api_paste_config": str(layout.venv / "etc" / "neutron" / "api-paste.ini"),
            # No DHCP agent exists; subnets are created with DHCP off.
            "dhcp_agent_notification": False,
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
        },
        "database": {"connection": db_url(layout, password, "neutron")},
        "keystone_authtoken": authtoken(layout, password, "neutron"),
        "nova": auth(layout, password, "neutron"),
        "oslo_concurrency": lock(str(data / "lock")),
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def ml2(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "ml2": {
            "type_drivers": "flat,vlan,local",
            "tenant_network_types": "vlan",
            # lab_binder binds every port without an L2 agent (stackproof_lab/plugins/stackproof_lab_plugins/ml2.py).
            "mechanism_drivers": "lab_binder",
            "extension_drivers": "port_security",
        },
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199"},
        "securitygroup": {"firewall_driver": "noop", "enable_security_group": True},
        "lab_binder": {"nsx_logical_switch_id": NSX_LOGICAL_SWITCH_ID},
    }
