"""NSX-3: the computes attach VIFs the NSX-T way, and no Open vSwitch agent competes with NSX."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import VMWARE_HV_TYPE

pytestmark = [pytest.mark.nsx]

OVS_AGENT = "Open vSwitch agent"


@pytest.mark.control(
    "SP-NSX-003",
    title="VMware computes use no integration bridge, KVM computes plug into the NSX bridge, no Open vSwitch agent",
    statement="Neutron with the VMware NSX plug-in attaches instances from either aggregate to overlay logical "
              "networks: NSX, not an L2 agent, owns the data path on every hypervisor.",
)
@pytest.mark.readonly
def test_computes_attach_the_nsx_way(cloud, hosts, nsx_design) -> None:
    agents = [f"{a.agent_type} on {a.host} ({a.id}, alive={a.is_alive})" for a in cloud.network.agents()
              if a.agent_type == OVS_AGENT]
    expect(not agents, f"{len(agents)} Open vSwitch agent(s) registered: an L2 agent competes with NSX for the "
           "data path", expected="no Open vSwitch agent", found=agents, where="network API /v2.0/agents")
    # Every nova-compute the cloud lists, read where the target's inventory says it runs.
    vmware = {(hv.service_details or {}).get("host") for hv in cloud.compute.hypervisors(details=True)
              if hv.hypervisor_type == VMWARE_HV_TYPE}
    scope = hosts.computes(s.host for s in cloud.compute.services(binary="nova-compute"))
    problems = scope.gaps("nova-compute")
    for name, items in sorted(scope.covered.items()):
        for item in items:
            where = f"{name} ({item.where})"
            if name in vmware:
                # NSX-MH's integration bridge: with NSX-T the port's vif_details name the logical switch instead.
                bridge = item.conf.get("vmware", "integration_bridge", fallback="").strip()
                if bridge:
                    problems.append(f"{where}: [vmware] integration_bridge={bridge}: every NIC lands on that one "
                                    "opaque network instead of its port's logical switch")
            else:
                bridge = item.conf.get("neutron", "ovs_bridge", fallback="br-int").strip()
                if bridge != nsx_design.kvm_bridge:
                    problems.append(f"{where}: [neutron] ovs_bridge={bridge}: VIFs are plugged into {bridge}, not "
                                    f"the NSX bridge {nsx_design.kvm_bridge}")
    expect(not problems, f"{len(problems)} compute(s) not attaching VIFs the NSX-T way",
           expected=f"for every nova-compute the compute API lists: its nova.conf in the target's inventory; on "
                    f"VMware computes [vmware] integration_bridge unset, on the others [neutron] "
                    f"ovs_bridge={nsx_design.kvm_bridge}",
           found="; ".join(problems), where="compute API os-services and os-hypervisors; nova.conf on each host")
