"""FO-2: each VMware nova-compute shows its whole cluster as one hypervisor, sized by the cluster's hosts."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.vsphere import retrieve

pytestmark = [pytest.mark.failover]


@pytest.mark.control(
    "SP-FO-002",
    title="One hypervisor per cluster, sized by its connected hosts",
    statement="One nova-compute fronts a whole ESXi cluster as one big hypervisor.",
)
@pytest.mark.readonly
def test_each_cluster_is_one_big_hypervisor(cloud, vcenters, vmware_computes) -> None:
    from pyVmomi import vim

    si = vcenters.get()
    about = si.RetrieveContent().about
    clusters = {c["obj"]._moId: c for c in retrieve(si, vim.ClusterComputeResource, ["name", "host"])}
    hosts = {h["obj"]: h for h in retrieve(si, vim.HostSystem, [
        "name", "runtime.connectionState", "runtime.inMaintenanceMode", "summary.hardware"])}
    for svc in vmware_computes.services:
        mine = vmware_computes.hypervisors_of(svc.host)
        where = f"nova-compute on {svc.host}"
        expect(len(mine) == 1, f"nova-compute on {svc.host} does not show exactly one hypervisor",
               expected="one hypervisor", found=[hv.name for hv in mine], where=where)
        hv = mine[0]
        moid, _, uuid = hv.name.partition(".")
        expect(moid in clusters and uuid == about.instanceUuid,
               f"hypervisor {hv.name} is not named <cluster moid>.<vCenter uuid>",
               expected=f"one of {sorted(f'{m}.{about.instanceUuid}' for m in clusters)}", found=hv.name,
               where=f"{where}, hypervisor {hv.id}")
        usable = [hosts[h] for h in clusters[moid].get("host") or []
                  if hosts[h].get("runtime.connectionState") == "connected"
                  and not hosts[h].get("runtime.inMaintenanceMode")]
        vcpus = sum(h["summary.hardware"].numCpuThreads for h in usable)
        memory_mb = sum(h["summary.hardware"].memorySize // (1024 * 1024) for h in usable)  # as nova sums
        response = cloud.placement.get(f"/resource_providers/{hv.id}/inventories", microversion="1.6")
        # A provider that could not be created (its name already taken, e.g. by a second compute fronting
        # the same cluster) leaves the hypervisor unschedulable: a finding, not an error.
        expect(response.status_code != 404, f"hypervisor {hv.name} of {svc.host} has no placement resource "
               "provider", expected=f"resource provider {hv.id}", found="HTTP 404",
               where=f"{where}, request {response.headers.get('x-openstack-request-id')}")
        response.raise_for_status()
        inventories = response.json()["inventories"]
        found = {rc: inventories.get(rc, {}).get("total") for rc in ("VCPU", "MEMORY_MB")}
        expect(found == {"VCPU": vcpus, "MEMORY_MB": memory_mb},
               f"placement does not size cluster {clusters[moid]['name']} by its usable hosts",
               expected=f"VCPU={vcpus}, MEMORY_MB={memory_mb} (sum over {len(usable)} connected hosts)",
               found=f"VCPU={found['VCPU']}, MEMORY_MB={found['MEMORY_MB']}",
               where=f"resource provider {hv.id} ({hv.name})")
