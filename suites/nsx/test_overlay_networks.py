"""NSX-2: tenant networks are NSX overlay (Geneve) networks with the designed MTU."""

from __future__ import annotations

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.nsx]

OVERLAY = "geneve"  # NSX-T's overlay encapsulation, as Neutron's provider:network_type shows it


@pytest.mark.control(
    "SP-NSX-002",
    title="Tenant networks are Geneve overlays with the designed MTU",
    statement="When users launch an instance within either of the host aggregates, VMware NSX ensures the "
              "instance attaches to the appropriate network overlay-based logical networks.",
)
@pytest.mark.readonly
def test_tenant_networks_are_overlays(neutron, nsx_design) -> None:
    networks = neutron.tenant_networks()
    expect(bool(networks), "the cloud lists no tenant network to check", expected="at least one network that is "
           "not router:external", found=f"{len(neutron.networks)} networks, all external", where="network API")
    wrong = [f"{n.name} ({n.id}): network_type={n.provider_network_type}, mtu={n.mtu}" for n in networks
             if n.provider_network_type != OVERLAY or n.mtu != nsx_design.overlay_mtu]
    expect(not wrong, f"{len(wrong)} of {len(networks)} tenant network(s) are not {OVERLAY} overlays of MTU "
           f"{nsx_design.overlay_mtu}", expected=f"provider:network_type={OVERLAY}, mtu={nsx_design.overlay_mtu} "
           "on every network that is not router:external", found=wrong,
           where="network API /v2.0/networks (all projects)")
