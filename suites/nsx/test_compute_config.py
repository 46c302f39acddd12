"""NSX-3: the computes attach VIFs the NSX-T way, and no Open vSwitch agent competes with NSX."""

from __future__ import annotations

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.nsx]

OVS_AGENT = "Open vSwitch agent"


@pytest.mark.control(
    "SP-NSX-003",
    title="VMware computes use no integration bridge, KVM computes plug into the NSX bridge, no Open vSwitch agent",
    statement="Neutron with the VMware NSX plug-in attaches instances from either aggregate to overlay logical "
              "networks: NSX, not an L2 agent, owns the data path on every hypervisor.",
)
@pytest.mark.readonly
def test_computes_attach_the_nsx_way(cloud, hosts, target, nsx_design) -> None:
    agents = [f"{a.agent_type} on {a.host} ({a.id}, alive={a.is_alive})" for a in cloud.network.agents()
              if a.agent_type == OVS_AGENT]
    expect(not agents, f"{len(agents)} Open vSwitch agent(s) registered: an L2 agent competes with NSX for the "
           "data path", expected="no Open vSwitch agent", found=agents, where="network API /v2.0/agents")
    roles = [role for role in hosts.roles() if role.startswith("compute-") and "nova" in target.hosts[role].config]
    expect(bool(roles), "the target describes no compute host role with a nova config", expected="compute-* roles "
           "with config.nova", found=hosts.roles(), where="target hosts")
    for role in roles:
        for host, conf in hosts.config(role, "nova"):
            where = f"role {role}, host {host.backend.get_hostname()}, {target.hosts[role].config['nova']}"
            if conf.get("DEFAULT", "compute_driver", fallback="").strip().endswith("VMwareVCDriver"):
                # NSX-MH's integration bridge: with NSX-T the port's vif_details name the logical switch instead.
                bridge = conf.get("vmware", "integration_bridge", fallback="").strip()
                expect(not bridge, "the VMware compute sets [vmware] integration_bridge: every NIC lands on that "
                       "one opaque network instead of its port's logical switch",
                       expected="[vmware] integration_bridge unset", found=f"integration_bridge={bridge}",
                       where=where)
            else:
                bridge = conf.get("neutron", "ovs_bridge", fallback="br-int").strip()
                expect(bridge == nsx_design.kvm_bridge, f"the KVM compute plugs VIFs into {bridge}, not the NSX "
                       f"bridge {nsx_design.kvm_bridge}", expected=f"[neutron] ovs_bridge={nsx_design.kvm_bridge}",
                       found=f"ovs_bridge={bridge}", where=where)
