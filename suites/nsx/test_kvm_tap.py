"""NSX-6: on a KVM compute, the instance's tap sits on the NSX-managed bridge, tied to its port and MAC."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE
from suites.block_storage.compute_hosts import compute_hosts
from suites.nsx.attachment import Boot, every_compute, expect_every_compute_evaluated, port_of, run_network

pytestmark = [pytest.mark.nsx]

TAP_LENGTH = 14  # nova's VIF device name: "tap" + the first 11 characters of the port id (network/model.py)


def _ovs(compute, *args: str) -> str:
    """What ovs-vsctl says on the compute (its error, when it fails: a tap on no bridge is a finding, not a crash)."""
    result = compute.host.run("ovs-vsctl " + " ".join(["%s"] * len(args)), *args)
    text = result.stdout if result.rc == 0 else f"(exit {result.rc}: {result.stderr.strip() or 'no output'})"
    return text.strip().strip('"')


@pytest.mark.control(
    "SP-NSX-006",
    title="A KVM server's tap is on the NSX bridge with its port's id and MAC",
    statement="VMware NSX attaches instances of the KVM aggregate to overlay logical networks: the compute plugs "
              "the instance's VIF into the NSX-managed bridge, where NSX knows it by its port.",
)
@pytest.mark.workload
def test_kvm_tap_is_on_the_nsx_bridge(cloud, run, target, hosts, resources, waiter, nsx_design) -> None:
    computes = {c.name: c for c in compute_hosts(cloud, hosts, KVM_HV_TYPE)}
    names, unusable = every_compute(cloud, target, KVM_HV_TYPE)
    network = run_network(resources, "nsx6-net")
    boots = [Boot(cloud, resources, target, run, KVM_HV_TYPE, network, f"nsx6-{host}", host=host) for host in names]
    wrong, seen = [], []
    for server in (b.active(waiter) for b in boots):
        port = port_of(cloud, server, network)
        compute = computes.get(server.compute_host)
        tap = f"tap{port.id}"[:TAP_LENGTH]
        if compute is None:
            wrong.append(f"{server.compute_host}: not in the target's inventory, tap {tap} of server {server.id} "
                         "not evaluated")
            continue
        bridge = _ovs(compute, "port-to-br", tap)
        iface = _ovs(compute, "get", "Interface", tap, "external_ids:iface-id")
        mac = _ovs(compute, "get", "Interface", tap, "external_ids:attached-mac")
        line = (f"{compute.name}: tap {tap} of port {port.id} (server {server.id}) on bridge {bridge}, iface-id "
                f"{iface}, attached-mac {mac} (port's MAC {port.mac_address})")
        seen.append(line)
        if not (bridge == nsx_design.kvm_bridge and iface == port.id and mac.lower() == port.mac_address.lower()):
            wrong.append(line)
    expect(not wrong, f"{len(wrong)} of {len(boots)} KVM servers' taps are not on the NSX bridge as their port",
           expected=f"on every KVM compute: the tap on bridge {nsx_design.kvm_bridge}, its iface-id the port's id, its "
                    "attached-mac the port's MAC", found="; ".join(wrong),
           where="ovs-vsctl port-to-br / get Interface on the computes; " + "; ".join(seen))
    expect_every_compute_evaluated(unusable, "SP-NSX-006")
