"""AGG-6: a VMDK image lands on ESXi: in the VMware aggregate, on the cluster nova names, as one VM vCenter runs."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import VMWARE_HV_TYPE, boot, flavor_for, image_for, outcome, settled, where
from stackproof.vsphere import retrieve, vms_of_instance
from suites.placement.servers import designed_aggregate

pytestmark = [pytest.mark.placement]

NOVA_EXTENSION = "org.openstack.compute"  # the vCenter extension nova's VMware driver registers and manages VMs as
VM_PATHS = ["name", "config.managedBy", "runtime.powerState", "runtime.host"]


@pytest.mark.control(
    "SP-AGG-006",
    title="A VMDK image lands on the VMware aggregate as a running vCenter VM",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the matching "
              "aggregate; the VMware aggregate's nova-compute fronts a vCenter cluster, where vCenter places the "
              "VM on an ESXi host.",
)
@pytest.mark.workload
def test_vmdk_image_lands_on_esxi(cloud, run, topology, expected_aggregates, resources, waiter, vcenters) -> None:
    from pyVmomi import vim

    aggregate = designed_aggregate(topology, expected_aggregates, VMWARE_HV_TYPE)
    image = image_for(cloud, "vmdk", VMWARE_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, image)
    server = settled(cloud, waiter, boot(resources, image=image, flavor=flavor, hint="agg6-vmdk"),
                     f"a server from VMDK image {image.name} to become ACTIVE or ERROR")
    at = where(cloud, server, image, flavor)
    expect(server.status == "ACTIVE", f"a server from VMDK image {image.name} did not boot",
           expected="ACTIVE", found=outcome(server), where=at)
    expect(server.compute_host in (aggregate.hosts or []),
           f"a server from VMDK image {image.name} landed outside aggregate {aggregate.name}",
           expected=f"compute_host in {sorted(aggregate.hosts or [])}", found=outcome(server), where=at)

    # nova's VMware driver names its one hypervisor per cluster <cluster moid>.<vCenter instanceUuid>.
    moid, _, vc_uuid = (server.hypervisor_hostname or "").partition(".")
    sessions = {name: vcenters.get(name) for name in vcenters.names()}
    uuids = {name: si.RetrieveContent().about.instanceUuid for name, si in sessions.items()}
    owners = [name for name, value in uuids.items() if value == vc_uuid]
    expect(len(owners) == 1, f"hypervisor {server.hypervisor_hostname} names no vCenter the target describes",
           expected="<cluster moid>.<instanceUuid of a described vCenter>",
           found=f"hypervisor_hostname={server.hypervisor_hostname}; vCenters: {uuids}", where=at)
    vc_name = owners[0]
    si = sessions[vc_name]
    clusters = {c["obj"]._moId: c for c in retrieve(si, vim.ClusterComputeResource, ["name", "host"])}
    expect(moid in clusters, f"hypervisor {server.hypervisor_hostname} names no cluster of vCenter {vc_name}",
           expected=f"a ClusterComputeResource with moid {moid}", found=f"clusters {sorted(clusters)}",
           where=f"{at}, compute host {server.compute_host}")
    cluster = clusters[moid]
    cluster_hosts = {h._moId for h in cluster.get("host") or []}
    at_cluster = f"{at}, compute host {server.compute_host}, vCenter {vc_name}, cluster {cluster['name']} ({moid})"

    vms = vms_of_instance(sessions, server.id, VM_PATHS)
    expect(len(vms) == 1, f"vCenter does not run exactly one VM for server {server.id}",
           expected=f"one VM with config.instanceUuid {server.id}",
           found=[f"{name}: {vm['obj']._moId} ({vm.get('name')})" for name, vm in vms] or "none", where=at_cluster)
    vm_vc, vm = vms[0]
    at_vm = f"{at_cluster}, VM {vm['obj']._moId} ({vm.get('name')})"
    managed_by = getattr(vm.get("config.managedBy"), "extensionKey", None)
    host = vm.get("runtime.host")
    found = (f"vCenter {vm_vc}, managedBy.extensionKey={managed_by}, powerState={vm.get('runtime.powerState')}, "
             f"host {host._moId if host is not None else None}")
    expect(vm_vc == vc_name and managed_by == NOVA_EXTENSION and vm.get("runtime.powerState") == "poweredOn"
           and host is not None and host._moId in cluster_hosts,
           f"the VM of server {server.id} is not a powered-on, nova-managed VM on a host of cluster {cluster['name']}",
           expected=f"vCenter {vc_name}, managedBy.extensionKey={NOVA_EXTENSION}, powerState=poweredOn, "
                    f"host in {sorted(cluster_hosts)}",
           found=found, where=at_vm)
