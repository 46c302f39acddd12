"""AGG-11 and AGG-12: vCenter can place what nova sends it: DRS fully automated, shared VMFS, vMotion ready."""

from __future__ import annotations

import re

import pytest

from stackproof.findings import expect
from stackproof.vsphere import retrieve

pytestmark = [pytest.mark.placement]


def _vim():
    from pyVmomi import vim

    return vim


def _nova_vmware_settings(hosts, target) -> list[tuple[str, str | None]]:
    """(cluster_name, datastore_regex) of every VMware compute role the target describes."""
    settings = []
    for role in hosts.roles():
        if role.startswith("compute-vmware") and "nova" in target.hosts[role].config:
            for _host, conf in hosts.config(role, "nova"):
                settings.append((conf.get("vmware", "cluster_name", fallback=""),
                                 conf.get("vmware", "datastore_regex", fallback=None)))
    return settings


def _clusters_in_scope(si, hosts, target) -> tuple[list[dict], str]:
    vim = _vim()
    clusters = retrieve(si, vim.ClusterComputeResource, ["name", "configurationEx", "host"])
    names = {name for name, _regex in _nova_vmware_settings(hosts, target) if name}
    if names:
        scoped = [c for c in clusters if c["name"] in names]
        missing = names - {c["name"] for c in scoped}
        expect(not missing, f"nova's [vmware] cluster_name names cluster(s) vCenter does not have: "
               f"{', '.join(sorted(missing))}", expected=f"clusters {sorted(names)}",
               found=f"clusters {sorted(c['name'] for c in clusters)}", where="nova.conf [vmware] cluster_name")
        return scoped, "the clusters in nova's [vmware] cluster_name"
    return clusters, "every cluster (the target names no VMware compute role)"


@pytest.mark.control(
    "SP-AGG-011",
    title="DRS is enabled and fully automated on the clusters nova uses",
    statement="vCenter places the VM on an ESXi host through DRS, which must be enabled and Fully Automated.",
)
@pytest.mark.readonly
def test_drs_fully_automated_and_hosts_usable(vcenters, hosts, target) -> None:
    drs = target.architecture.drs
    if drs is None:
        pytest.skip("the target declares no DRS expectation (architecture.drs)")
    vim = _vim()
    for vc_name in vcenters.names():
        si = vcenters.get(vc_name)
        clusters, scope = _clusters_in_scope(si, hosts, target)
        expect(bool(clusters), "no cluster to check", expected=scope, found="none", where=f"vCenter {vc_name}")
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


@pytest.mark.control(
    "SP-AGG-012",
    title="Datastores are shared VMFS on every host, and every host is vMotion ready",
    statement="DRS relies on vMotion, which needs shared storage: a VMFS datastore serves ESXi instances.",
)
@pytest.mark.readonly
def test_shared_vmfs_and_vmotion(vcenters, hosts, target) -> None:
    vim = _vim()
    regexes = [r for _name, r in _nova_vmware_settings(hosts, target) if r]
    pattern = target.architecture.datastore_pattern or (regexes[0] if regexes else None)
    for vc_name in vcenters.names():
        si = vcenters.get(vc_name)
        clusters, _scope = _clusters_in_scope(si, hosts, target)
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
