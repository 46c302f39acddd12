"""BLK-3 and BLK-4: cinder's VMDK backend uses nova's vCenter and clusters, and datastores every host shares."""

from __future__ import annotations

import re

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true
from stackproof.servers import VMWARE_HV_TYPE
from stackproof.vsphere import retrieve
from suites.block_storage.cinder_facts import VMDK_DRIVER, VMWARE_DEFAULT_PORT
from suites.block_storage.compute_hosts import compute_hosts

pytestmark = [pytest.mark.block_storage]


STATEMENT = "Shared storage serves vSphere storage (a VMFS datastore) to ESXi instances, and Block Storage " \
            "supports both hypervisors: the VMware volume backend works in the vCenter and clusters nova uses."


def _vim():
    from pyVmomi import vim

    return vim


def _managed_cluster_names(cloud, si) -> set[str]:
    """Clusters nova fronts, from the compute API: nova names a VMware hypervisor <cluster moid>.<vCenter uuid>
    (the plain hypervisor list: its details cost seconds and add nothing here)."""
    names = {str(hv.name) for hv in cloud.compute.hypervisors()}
    uuid = si.RetrieveContent().about.instanceUuid
    return {c["name"] for c in retrieve(si, _vim().ClusterComputeResource, ["name"])
            if f"{c['obj']._moId}.{uuid}" in names}


def _no_vmdk_backend(cinder_configs) -> str:
    return "; ".join(f"{c.where}: sections {c.conf.sections()}" for c in cinder_configs)


@pytest.mark.control(
    "SP-BLK-003",
    title="The VMDK backend uses nova's vCenter, clusters nova manages, and verifies TLS",
    statement=STATEMENT,
)
@pytest.mark.readonly
def test_vmdk_backend_uses_novas_vcenter(vmdk_backends, cinder_configs, hosts, target, cloud, vcenters,
                                         vcenter_at) -> None:
    expect(bool(vmdk_backends), "no cinder backend runs the VMDK driver",
           expected=f"a backend section with volume_driver={VMDK_DRIVER}", found=_no_vmdk_backend(cinder_configs),
           where="cinder.conf")
    nova = compute_hosts(cloud, hosts, VMWARE_HV_TYPE)
    nova_addresses = {(c.conf.get("vmware", "host_ip", fallback="").strip(),
                       int(c.conf.get("vmware", "host_port", fallback="") or VMWARE_DEFAULT_PORT)): c.where
                      for c in nova}
    nova_clusters = {c.conf.get("vmware", "cluster_name", fallback="").strip() for c in nova} - {""}
    for backend in vmdk_backends:
        driver = backend.get("volume_driver")
        expect(driver == VMDK_DRIVER, f"backend {backend.section} does not run the vCenter VMDK driver",
               expected=f"volume_driver={VMDK_DRIVER}", found=f"volume_driver={driver}", where=backend.where)
        host_ip, _port = backend.address
        # The catalogue ties the address, not the port (a compute may reach vCenter through a proxy or port
        # forward). Compared as written: one vCenter under two names is two vCenters to whoever reads the config.
        expect(host_ip in {ip for ip, _p in nova_addresses}, f"cinder's backend {backend.section} reaches vCenter "
               f"at {host_ip}, not at the vCenter nova uses",
               expected=f"vmware_host_ip one of nova's [vmware] host_ip {sorted({ip for ip, _p in nova_addresses})}",
               found=f"vmware_host_ip={host_ip}", where=f"{backend.where}; nova: {'; '.join(nova_addresses.values())}")
        insecure = is_true(backend.get("vmware_insecure", "false"))
        expect(not insecure, f"backend {backend.section} does not verify vCenter's certificate",
               expected="vmware_insecure=false (with vmware_ca_file)", found="vmware_insecure=true",
               where=backend.where)
        clusters = backend.all("vmware_cluster_name")
        expect(bool(clusters), f"backend {backend.section} may place volumes in any cluster of the vCenter",
               expected="vmware_cluster_name set to clusters nova manages", found="vmware_cluster_name unset",
               where=backend.where)
        vc_name = vcenter_at(backend.address) or vcenter_at(next(iter(nova_addresses)))
        managed = set(nova_clusters)
        if vc_name is not None:
            managed |= _managed_cluster_names(cloud, vcenters.get(vc_name))
        strangers = sorted(set(clusters) - managed)
        expect(not strangers, f"backend {backend.section} uses cluster(s) nova does not manage: "
               f"{', '.join(strangers)}", expected=f"clusters within {sorted(managed)}",
               found=f"vmware_cluster_name={clusters}",
               where=f"{backend.where}; nova-managed clusters from nova.conf and the compute API's VMware "
                     f"hypervisors (vCenter {vc_name})")


@pytest.mark.control(
    "SP-BLK-004",
    title="Datastores the VMDK backend can pick are VMFS and mounted on every cluster host",
    statement="Shared storage serves vSphere storage (a VMFS datastore) to ESXi instances.",
)
@pytest.mark.readonly
def test_vmdk_datastores_shared_vmfs(vmdk_backends, cinder_configs, target, vcenters, vcenter_at) -> None:
    expect(bool(vmdk_backends), "no cinder backend runs the VMDK driver",
           expected=f"a backend section with volume_driver={VMDK_DRIVER}", found=_no_vmdk_backend(cinder_configs),
           where="cinder.conf")
    vim = _vim()
    for backend in vmdk_backends:
        vc_name = vcenter_at(backend.address)
        expect(vc_name is not None, f"backend {backend.section}'s vCenter is not one the target describes",
               expected=f"one of vcenters {sorted(target.vcenters)}", found="{}:{}".format(*backend.address),
               where=backend.where)
        si = vcenters.get(vc_name)
        clusters = retrieve(si, vim.ClusterComputeResource, ["name", "host"])
        names = backend.all("vmware_cluster_name")
        scoped = [c for c in clusters if not names or c["name"] in names]
        expect(bool(scoped), f"no cluster of vCenter {vc_name} is one backend {backend.section} uses",
               expected=f"clusters {names or 'any'}", found=sorted(c["name"] for c in clusters), where=backend.where)
        regex = backend.get("vmware_datastore_regex") or None
        host_names = {h["obj"]: h["name"] for h in retrieve(si, vim.HostSystem, ["name"])}
        datastores = retrieve(si, vim.Datastore, ["name", "summary.type", "host"])
        for cluster in scoped:
            members = list(cluster.get("host") or [])
            where = f"{backend.where}; vCenter {vc_name}, cluster {cluster['name']} ({cluster['obj']._moId})"
            mounts_of = {ds["obj"]: {m.key: m.mountInfo for m in ds.get("host") or []} for ds in datastores}
            # What the driver chooses from: datastores matching its regex that a host of the cluster sees.
            candidates = [ds for ds in datastores if (regex is None or re.search(regex, ds["name"]))
                          and any(h in mounts_of[ds["obj"]] for h in members)]
            expect(bool(candidates), f"backend {backend.section} has no datastore in cluster {cluster['name']}",
                   expected=f"datastores matching {regex or 'any name'} on the cluster's hosts",
                   found=f"datastores {sorted(d['name'] for d in datastores)}", where=where)
            for ds in candidates:
                ds_where = f"{where}, datastore {ds['name']} ({ds['obj']._moId})"
                expect(ds.get("summary.type") == "VMFS", f"datastore {ds['name']} is not VMFS",
                       expected="summary.type=VMFS", found=f"summary.type={ds.get('summary.type')}", where=ds_where)
                unmounted = []
                for host in members:
                    info = mounts_of[ds["obj"]].get(host)
                    if info is None or not info.mounted or info.accessMode != "readWrite" or not info.accessible:
                        state = "not attached" if info is None else (
                            f"mounted={info.mounted}, accessMode={info.accessMode}, accessible={info.accessible}")
                        unmounted.append(f"{host_names.get(host, host._moId)} ({state})")
                expect(not unmounted, f"datastore {ds['name']} is not mounted read-write on every host of cluster "
                       f"{cluster['name']}", expected=f"mounted readWrite on all {len(members)} hosts",
                       found="; ".join(unmounted), where=ds_where)
