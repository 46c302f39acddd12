"""NSX-6: on a KVM compute, the instance's tap sits on the NSX-managed bridge, tied to its port and MAC."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE
from suites.block_storage.compute_hosts import compute_hosts
from suites.nsx.attachment import Boot, port_of, run_network

pytestmark = [pytest.mark.nsx]

# The compute driver that plugs a port's tap into the host bridge nova's [neutron] ovs_bridge names.
PLUGGING_DRIVER = "libvirt.LibvirtDriver"
TAP_LENGTH = 14  # nova's VIF device name: "tap" + the first 11 characters of the port id (network/model.py)


def _ovs(compute, *args: str) -> str:
    result = compute.host.run("ovs-vsctl " + " ".join(["%s"] * len(args)), *args)
    expect(result.rc == 0, f"`{result.command}` failed on {compute.name}", expected="exit 0",
           found=f"exit {result.rc}: {result.stderr.strip()}", where=compute.where)
    return result.stdout.strip().strip('"')


@pytest.mark.control(
    "SP-NSX-006",
    title="A KVM server's tap is on the NSX bridge with its port's id and MAC",
    statement="VMware NSX attaches instances of the KVM aggregate to overlay logical networks: the compute plugs "
              "the instance's VIF into the NSX-managed bridge, where NSX knows it by its port.",
)
@pytest.mark.workload
def test_kvm_tap_is_on_the_nsx_bridge(cloud, run, target, hosts, resources, waiter, nsx_design) -> None:
    computes = compute_hosts(cloud, hosts, KVM_HV_TYPE)
    plugging = [c for c in computes if c.conf.get("DEFAULT", "compute_driver", fallback="").strip()
                .endswith(PLUGGING_DRIVER)]
    if not plugging:
        drivers = ", ".join(f"{c.name}: {c.conf.get('DEFAULT', 'compute_driver', fallback='unset')}" for c in computes)
        pytest.skip(f"no KVM compute the target describes plugs VIFs into a host bridge ({drivers}; "
                    f"only {PLUGGING_DRIVER} does), so there is no tap to find")
    network = run_network(resources, "nsx6-net")
    server = Boot(cloud, resources, target, run, KVM_HV_TYPE, network, "nsx6-kvm",
                  among=[c.name for c in plugging]).active(waiter)
    port = port_of(cloud, server, network)
    compute = next(c for c in plugging if c.name == server.compute_host)
    tap = f"tap{port.id}"[:TAP_LENGTH]
    at = f"{compute.where}, tap {tap} of port {port.id} (server {server.id})"
    bridge = _ovs(compute, "port-to-br", tap)
    iface = _ovs(compute, "get", "Interface", tap, "external_ids:iface-id")
    mac = _ovs(compute, "get", "Interface", tap, "external_ids:attached-mac")
    expect(bridge == nsx_design.kvm_bridge and iface == port.id and mac.lower() == port.mac_address.lower(),
           f"the tap of server {server.id} is not on the NSX bridge as its port",
           expected=f"bridge {nsx_design.kvm_bridge}, iface-id {port.id}, attached-mac {port.mac_address}",
           found=f"bridge {bridge}, iface-id {iface}, attached-mac {mac}", where=at)
