"""The lab NSX manager's design: the values it is built with (transport zones, user, MTU, the KVM bridge), where
its files are, and the options the lab's Neutron driver reaches it with. Imports nothing of the lab but the layout
and the topology's constants, so the config renderers and the service wiring can both use it."""

from __future__ import annotations

from pathlib import Path

from stackproof_lab.layout import Layout
from stackproof_lab.topology import NESTED, TENANT_MTU

PORT = "nsx-manager"  # layout port name
USER = "admin"  # NSX-T's built-in administrator
SECRET = "nsx"  # name of its password in secrets.json (passwords.NAMES)
# The overlay transport zone every lab segment lives in, as an NSX-T manager names it (NSX ids are UUIDs),
# and a VLAN transport zone for VLAN networks (which the architecture does not want for tenants: SP-NSX-002).
OVERLAY_TZ_ID = "1b3a2f36-bfd1-443e-a0f6-4de01abc963e"
OVERLAY_TZ = "sp-overlay-tz"
VLAN_TZ_ID = "7d5e9c10-6f2a-4b3c-9d8e-0a1b2c3d4e5f"
VLAN_TZ = "sp-vlan-tz"
# The NSX-managed OVS bridge of a KVM transport node (NSX-T's default name): nova's [neutron] ovs_bridge.
KVM_BRIDGE = "nsx-managed"
# Tenant networks carry 1500-byte frames: the TEP path carries 1550 (neutron's global_physnet_mtu), less
# Geneve's header (max_header_size 30) and the outer IPv4 header (20). A nested lab's TEPs are its instances' NICs
# on an undercloud tenant network (1500): its own tenant networks carry 50 bytes less.
GENEVE_OVERHEAD = 50
UNDERLAY_MTU = TENANT_MTU if NESTED else TENANT_MTU + GENEVE_OVERHEAD
OVERLAY_MTU = UNDERLAY_MTU - GENEVE_OVERHEAD
# Who a server's key pair logs in as: the lab's guests are namespaces whose sshd (the NSX node agent's) takes root.
GUEST_USER = "root"
# Seconds within which a security group change is enforced (the bound SP-NSX-008 holds the cloud to).
SG_ENFORCEMENT_SECONDS = 10


def state_dir(layout: Layout) -> Path:
    return layout.state / "nsx"


def ca_file(layout: Layout) -> Path:
    return state_dir(layout) / "nsx-ca.pem"


def url(layout: Layout, *, public: bool = False) -> str:
    """On the controller's management address, where the computes, the lab vCenter and the runner reach it as
    they would a real NSX manager (``public``: where the runner reaches it, for a lab that publishes its APIs)."""
    return f"https://{layout.reached if public else layout.controller}:{layout.port(PORT)}"


def segment_path(network_id: str) -> str:
    return f"/infra/segments/{network_id}"


def transport_zone_path(tz_id: str) -> str:
    return f"/infra/sites/default/enforcement-points/default/transport-zones/{tz_id}"


def driver_options(layout: Layout, password: str, vmware_hosts: list[str]) -> dict[str, object]:
    """ml2_conf.ini's [lab_nsx]: how the lab's Neutron driver reaches the manager (TLS verified with its CA)."""
    return {
        "nsx_api_managers": url(layout),
        "nsx_api_user": USER,
        "nsx_api_password": password,
        "ca_file": str(ca_file(layout)),
        "overlay_tz": OVERLAY_TZ_ID,
        "vlan_tz": VLAN_TZ_ID,
        # The VMware computes: only a fault (vmware-nic-on-portgroup) makes the driver treat their ports apart.
        "vmware_hosts": ",".join(vmware_hosts),
    }
