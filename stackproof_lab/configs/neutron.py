"""neutron.conf and ml2_conf.ini of the controller."""

from __future__ import annotations

from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import auth, authtoken, db_url, lock, transport_url
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import design as nsx_design
from stackproof_lab.topology import VMWARE_COMPUTES


def neutron(layout: Layout, password: dict[str, str]) -> Sections:
    data = layout.data / "neutron"
    return {
        "DEFAULT": {
            # The lab's stand-in for the NSX Policy plugin, registered under the plugin's own alias: ML2 with the
            # lab_nsx mechanism driver, which realises everything in the lab NSX manager (stackproof_lab/plugins).
            "core_plugin": "vmware_nsxp",
            # The TEP path's MTU: Geneve networks get it less the encapsulation (nsx_design.OVERLAY_MTU for tenants).
            "global_physnet_mtu": nsx_design.UNDERLAY_MTU,
            # Routers and floating IPs as the NSX plugin offers them (Tier-1 gateways with NAT): neutron's own L3
            # plugin keeps them, reporting floating IPs as nsx_p does (plugins/.../nsx_l3.py); the edge's node agent
            # realizes them (stackproof_lab/dataplane), no L3 agent.
            "service_plugins": "stackproof_lab_plugins.nsx_l3.LabNsxL3Plugin,trunk",
            "auth_strategy": "keystone",
            "transport_url": transport_url(layout, password),
            "state_path": str(data),
            "api_paste_config": str(layout.venv / "etc" / "neutron" / "api-paste.ini"),
            # No DHCP agent: the NSX edge's node agent serves DHCP (and metadata) for every network with instances,
            # from a Neutron DHCP port it reserves (stackproof_lab/dataplane), as NSX's native DHCP does.
            "dhcp_agent_notification": False,
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
        },
        "database": {"connection": db_url(layout, password, "neutron")},
        "keystone_authtoken": authtoken(layout, password, "neutron"),
        # Port events to nova on its internal endpoint: a nested lab publishes its public ones on a floating IP that
        # its own hosts do not reach (no hairpin through the undercloud's router).
        "nova": auth(layout, password, "neutron", endpoint_type="internal"),
        "oslo_concurrency": lock(str(data / "lock")),
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def ml2(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "ml2": {
            # Tenant networks are NSX overlay (Geneve) segments; VLAN and flat stay for provider networks.
            "type_drivers": "geneve,vlan,flat",
            "tenant_network_types": "geneve",
            # lab_nsx realises networks, ports and security groups in the lab NSX manager and binds ports with
            # the segment's logical switch, without agents (stackproof_lab/plugins/stackproof_lab_plugins/nsx_ml2.py).
            "mechanism_drivers": "lab_nsx",
            "extension_drivers": "port_security",
        },
        "ml2_type_geneve": {"vni_ranges": "5000:5999", "max_header_size": 30},
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199"},
        "securitygroup": {"firewall_driver": "noop", "enable_security_group": True},
        "lab_nsx": nsx_design.driver_options(layout, password[nsx_design.SECRET], list(VMWARE_COMPUTES)),
    }
