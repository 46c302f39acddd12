"""NSX-4 and NSX-5: instances of both aggregates attach to one overlay logical switch; on vSphere, the VM's NIC is
backed by that logical switch's opaque network."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, VMWARE_HV_TYPE
from stackproof.vsphere import properties_of, vms_of_instance
from suites.nsx.attachment import Boot, port_of, run_network
from suites.nsx.neutron import logical_switch_of

pytestmark = [pytest.mark.nsx]

OPAQUE_TYPE = "nsx.LogicalSwitch"  # an NSX-T logical switch as vSphere knows it


@pytest.mark.control(
    "SP-NSX-004",
    title="Servers of both aggregates on one network are bound to the same NSX logical switch",
    statement="When users launch an instance within either of the host aggregates, VMware NSX ensures the "
              "instance attaches to the appropriate network overlay-based logical networks.",
)
@pytest.mark.workload
def test_both_aggregates_attach_to_one_logical_switch(cloud, run, target, resources, waiter, nsx_manager,
                                                      nsx_design) -> None:
    network = run_network(resources, "nsx4-net")
    boots = [Boot(cloud, resources, target, run, hv_type, network, f"nsx4-{family}")
             for family, hv_type in (("kvm", KVM_HV_TYPE), ("vmware", VMWARE_HV_TYPE))]
    servers = [b.active(waiter) for b in boots]
    realized = nsx_manager.policy().realized_switch(network.id) or {}
    segment_switch = realized.get("realization_specific_identifier")
    expect(realized.get("state") == "REALIZED" and segment_switch,
           f"network {network.name}'s segment is not realized as a logical switch",
           expected="realized state REALIZED with a logical switch id",
           found=f"state {realized.get('state', 'none')}, id {segment_switch}",
           where=f"NSX realized state of /infra/segments/{network.id}")
    for server in servers:
        port = port_of(cloud, server, network)
        found = (f"status {port.status}, binding host {port.binding_host_id}, vif_type {port.binding_vif_type}, "
                 f"vnic_type {port.binding_vnic_type}, logical switch {logical_switch_of(port)}")
        expect(port.status == "ACTIVE" and port.binding_host_id == server.compute_host
               and port.binding_vif_type == "ovs" and port.binding_vnic_type == "normal"
               and logical_switch_of(port) == segment_switch,
               f"the port of the server on {server.compute_host} is not bound to network {network.name}'s logical "
               "switch", expected=f"status ACTIVE, binding host {server.compute_host}, vif_type ovs, vnic_type normal, "
                                  f"logical switch {segment_switch}",
               found=found, where=f"port {port.id} of server {server.id} ({server.name}) on network {network.id}")


@pytest.mark.control(
    "SP-NSX-005",
    title="A VMware server's NIC is backed by its port's NSX logical switch (opaque network)",
    statement="VMware NSX attaches instances of the ESXi aggregate to overlay logical networks: the VM's NIC is "
              "backed by the NSX logical switch of its port, which the ESXi host carries as an opaque network.",
)
@pytest.mark.workload
def test_vmware_nic_is_backed_by_the_logical_switch(cloud, run, target, resources, waiter, vcenters) -> None:
    from pyVmomi import vim

    network = run_network(resources, "nsx5-net")
    server = Boot(cloud, resources, target, run, VMWARE_HV_TYPE, network, "nsx5-vmware").active(waiter)
    port = port_of(cloud, server, network)
    switch = logical_switch_of(port)
    at = f"server {server.id} ({server.name}) on {server.compute_host}, port {port.id} on network {network.id}"
    sessions = {name: vcenters.get(name) for name in vcenters.names()}
    vms = vms_of_instance(sessions, server.id, ["config.hardware.device", "runtime.host"])
    expect(len(vms) == 1, f"vCenter does not run exactly one VM for server {server.id}",
           expected=f"one VM with config.instanceUuid {server.id}", found=[f"{n}: {vm['obj']._moId}" for n, vm in vms]
           or "none", where=at)
    vc_name, vm = vms[0]
    at_vm = f"{at}, vCenter {vc_name}, VM {vm['obj']._moId}"
    nics = [d for d in vm.get("config.hardware.device") or [] if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    nic = next((d for d in nics if (d.macAddress or "").lower() == port.mac_address.lower()), None)
    expect(nic is not None, f"the VM has no NIC with its port's MAC {port.mac_address}",
           expected=f"a VirtualEthernetCard with macAddress {port.mac_address}",
           found=[f"{type(d).__name__} {d.macAddress}" for d in nics] or "no NIC", where=at_vm)
    backing = nic.backing
    found = (f"backing {type(backing).__name__}, opaqueNetworkId {getattr(backing, 'opaqueNetworkId', None)}, "
             f"opaqueNetworkType {getattr(backing, 'opaqueNetworkType', None)}, externalId {nic.externalId}")
    expect(isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo)
           and backing.opaqueNetworkId == switch and backing.opaqueNetworkType == OPAQUE_TYPE
           and nic.externalId == port.id,
           f"the NIC of server {server.id} is not backed by its port's NSX logical switch",
           expected=f"OpaqueNetworkBackingInfo, opaqueNetworkId {switch}, opaqueNetworkType {OPAQUE_TYPE}, "
                    f"externalId {port.id}", found=found, where=f"{at_vm}, NIC {nic.deviceInfo.label}")
    host = vm.get("runtime.host")
    carried = properties_of(sessions[vc_name], host, ["config.network.opaqueNetwork", "name"])
    ids = [n.opaqueNetworkId for n in carried.get("config.network.opaqueNetwork") or []]
    expect(switch in ids, f"ESXi host {carried.get('name')} does not carry the logical switch {switch} of the VM's "
           "port: it is no NSX transport node for it", expected=f"an opaque network {switch} on the host",
           found=f"opaque networks {ids}", where=f"{at_vm}, host {host._moId}")
