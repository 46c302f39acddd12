"""AGG-11 and AGG-12: vCenter can place what nova sends it: DRS fully automated, shared VMFS, vMotion ready."""

from __future__ import annotations

import re

import pytest

from stackproof.findings import expect
from stackproof.servers import VMWARE_HV_TYPE
from stackproof.vsphere import retrieve

pytestmark = [pytest.mark.placement]


def _vim():
    from pyVmomi import vim

    return vim


def _nova_vmware_settings(hosts) -> list[tuple[str, str | None]]:
    """(cluster_name, datastore_regex) of every VMware nova-compute host the target's inventory describes."""
    return [(item.conf.get("vmware", "cluster_name", fallback="").strip(),
             item.conf.get("vmware", "datastore_regex", fallback=None))
            for item in hosts.serving("nova")
            if item.conf.get("DEFAULT", "compute_driver", fallback="").strip().endswith("VMwareVCDriver")]


def _hypervisor_clusters(cloud) -> dict[str, set[str]]:
    """vCenter instance UUID -> moids of the clusters nova's VMware hypervisors name (<cluster moid>.<uuid>)."""
    named: dict[str, set[str]] = {}
    for hv in cloud.compute.hypervisors(details=True):
        if hv.hypervisor_type == VMWARE_HV_TYPE and "." in hv.name:
            moid, _, uuid = hv.name.partition(".")
            named.setdefault(uuid, set()).add(moid)
    return named


def _clusters_in_scope(si, hosts, cloud) -> list[dict]:
    """The clusters of this vCenter that nova uses: every cluster a VMware hypervisor names, and every cluster a
    VMware compute's nova.conf names; one that vCenter does not have is a finding."""
    vim = _vim()
    clusters = retrieve(si, vim.ClusterComputeResource, ["name", "configurationEx", "host"])
    uuid = si.RetrieveContent().about.instanceUuid
    moids = _hypervisor_clusters(cloud).get(uuid, set())
    names = {name for name, _regex in _nova_vmware_settings(hosts) if name}
    scoped = [c for c in clusters if c["obj"]._moId in moids or c["name"] in names]
    missing = sorted(names - {c["name"] for c in clusters}) + sorted(
        f"{m}.{uuid}" for m in moids - {c["obj"]._moId for c in clusters})
    expect(not missing, f"nova names cluster(s) this vCenter does not have: {', '.join(missing)}",
           expected=f"clusters {sorted(names)} (nova.conf [vmware] cluster_name) and {sorted(moids)} (hypervisors)",
           found=f"clusters {sorted(c['name'] + ' (' + c['obj']._moId + ')' for c in clusters)}",
           where=f"nova.conf [vmware] cluster_name; compute API os-hypervisors; vCenter {uuid}")
    return scoped


def _unreached_vcenters(cloud, vcenters) -> None:
    """Clusters of a vCenter the target gives no access to cannot be evaluated: a finding, not a silent skip."""
    known = {vcenters.get(name).RetrieveContent().about.instanceUuid for name in vcenters.names()}
    strangers = {uuid: moids for uuid, moids in _hypervisor_clusters(cloud).items() if uuid not in known}
    expect(not strangers, "nova's VMware hypervisors name clusters of a vCenter the target gives no access to "
           "(not evaluated)", expected=f"every vCenter of nova's hypervisors among the target's vcenters "
           f"{vcenters.names()}", found={uuid: sorted(moids) for uuid, moids in strangers.items()},
           where="compute API os-hypervisors; target vcenters")


@pytest.mark.control(
    "SP-AGG-011",
    title="DRS is enabled and fully automated on the clusters nova uses",
    statement="vCenter places the VM on an ESXi host through DRS, which must be enabled and Fully Automated.",
)
@pytest.mark.readonly
def test_drs_fully_automated_and_hosts_usable(cloud, vcenters, hosts, target) -> None:
    drs = target.architecture.drs
    if drs is None:
        pytest.skip("the target declares no DRS expectation (architecture.drs)")
    vim = _vim()
    for vc_name in vcenters.names():
        si = vcenters.get(vc_name)
        clusters = _clusters_in_scope(si, hosts, cloud)
        host_props = {h["obj"]: h for h in retrieve(si, vim.HostSystem, [
            "name", "runtime.connectionState", "runtime.inMaintenanceMode"])}
        for cluster in clusters:
            where = f"vCenter {vc_name}, cluster {cluster['name']} ({cluster['obj']._moId})"
            config = cluster["configurationEx"].drsConfig
            expect(bool(config.enabled) == drs.enabled, f"DRS is {'on' if config.enabled else 'off'} on "
                   f"cluster {cluster['name']}", expected=f"drsConfig.enabled={drs.enabled}",
                   found=f"drsConfig.enabled={config.enabled}", where=where)
            expect(config.defaultVmBehavior == drs.behavior,
                   f"DRS on cluster {cluster['name']} is not {drs.behavior}",
                   expected=f"defaultVmBehavior={drs.behavior}", found=f"defaultVmBehavior={config.defaultVmBehavior}",
                   where=where)
            overrides = [o for o in cluster["configurationEx"].drsVmConfig or []
                         if o.enabled is False or (o.behavior and o.behavior != drs.behavior)]
            expect(not overrides, f"{len(overrides)} VM(s) override DRS on cluster {cluster['name']}",
                   expected="no per-VM DRS override", where=where,
                   found=", ".join(f"{o.key._moId}: enabled={o.enabled} behavior={o.behavior}" for o in overrides))
            for host in cluster.get("host") or []:
                props = host_props[host]
                state, maintenance = props.get("runtime.connectionState"), props.get("runtime.inMaintenanceMode")
                expect(state == "connected" and not maintenance,
                       f"host {props['name']} of cluster {cluster['name']} cannot take VMs",
                       expected="connectionState=connected, inMaintenanceMode=False",
                       found=f"connectionState={state}, inMaintenanceMode={maintenance}",
                       where=f"{where}, host {props['name']} ({host._moId})")

    _unreached_vcenters(cloud, vcenters)

@pytest.mark.control(
    "SP-AGG-012",
    title="Datastores are shared VMFS on every host, and every host is vMotion ready",
    statement="DRS relies on vMotion, which needs shared storage: a VMFS datastore serves ESXi instances.",
)
@pytest.mark.readonly
def test_shared_vmfs_and_vmotion(cloud, vcenters, hosts, target) -> None:
    vim = _vim()
    regexes = [r for _name, r in _nova_vmware_settings(hosts) if r]
    pattern = target.architecture.datastore_pattern or (regexes[0] if regexes else None)
    for vc_name in vcenters.names():
        si = vcenters.get(vc_name)
        clusters = _clusters_in_scope(si, hosts, cloud)
        host_props = {h["obj"]: h for h in retrieve(si, vim.HostSystem, [
            "name", "summary.config.vmotionEnabled", "config.vmotion"])}
        datastores = retrieve(si, vim.Datastore, [
            "name", "summary.type", "summary.multipleHostAccess", "summary.accessible", "summary.maintenanceMode",
            "host"])
        for cluster in clusters:
            members = list(cluster.get("host") or [])
            where = f"vCenter {vc_name}, cluster {cluster['name']} ({cluster['obj']._moId})"
            mounts_of = {ds["obj"]: {m.key: m.mountInfo for m in ds.get("host") or []} for ds in datastores}
            candidates = [ds for ds in datastores
                          if (pattern is None or re.search(pattern, ds["name"]))
                          and any(h in mounts_of[ds["obj"]] for h in members)]
            expect(bool(candidates), f"no datastore{' matching ' + pattern if pattern else ''} is attached to "
                   f"cluster {cluster['name']}", expected="at least one shared VMFS datastore",
                   found=f"datastores {[d['name'] for d in datastores]}", where=where)
            for ds in candidates:
                ds_where = f"{where}, datastore {ds['name']} ({ds['obj']._moId})"
                found = ", ".join(f"{key}={ds.get('summary.' + key)}" for key in (
                    "type", "multipleHostAccess", "accessible", "maintenanceMode"))
                expect(ds.get("summary.type") == "VMFS" and ds.get("summary.multipleHostAccess") is True
                       and ds.get("summary.accessible") is True
                       and ds.get("summary.maintenanceMode") in (None, "normal"),
                       f"datastore {ds['name']} is not usable shared VMFS",
                       expected="type=VMFS, multipleHostAccess=True, accessible=True, maintenanceMode=normal",
                       found=found, where=ds_where)
                unmounted = []
                for host in members:
                    info = mounts_of[ds["obj"]].get(host)
                    if info is None or not info.mounted or info.accessMode != "readWrite" or not info.accessible:
                        state = "not attached" if info is None else (
                            f"mounted={info.mounted}, accessMode={info.accessMode}, accessible={info.accessible}")
                        unmounted.append(f"{host_props[host]['name']} ({state})")
                expect(not unmounted, f"datastore {ds['name']} is not mounted read-write on every host of "
                       f"cluster {cluster['name']}", expected=f"mounted readWrite on all {len(members)} hosts",
                       found="; ".join(unmounted), where=ds_where)
            for host in members:
                props = host_props[host]
                vmotion = props.get("config.vmotion")
                selected = getattr(getattr(vmotion, "netConfig", None), "selectedVnic", None)
                expect(props.get("summary.config.vmotionEnabled") is True and bool(selected),
                       f"host {props['name']} is not vMotion ready",
                       expected="vmotionEnabled=True with a selected vMotion vmknic",
                       found=f"vmotionEnabled={props.get('summary.config.vmotionEnabled')}, selectedVnic={selected}",
                       where=f"{where}, host {props['name']} ({host._moId})")
    _unreached_vcenters(cloud, vcenters)
