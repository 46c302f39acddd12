"""VMDK-8: computes whose clusters share a datastore agree on how they cache and clone images there."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from stackproof.findings import expect
from stackproof.vsphere import retrieve
from suites.vmdk.nova_vmware import CACHE_OPTIONS, cache_folder, option

pytestmark = [pytest.mark.vmdk]


def _settings(conf) -> dict[str, str]:
    return {f"[{section}] {name}": option(conf, section, name) for section, name in CACHE_OPTIONS}


@pytest.mark.control(
    "SP-VMDK-008",
    title="Computes sharing a datastore agree on image cache and clone settings",
    statement="Shared storage serves a VMFS datastore to the ESXi instances of several clusters, and each "
              "cluster's nova-compute caches images there: computes sharing a datastore agree on "
              "[vmware] use_linked_clone, cache_prefix and the [image_cache] options, or one compute's cache "
              "folder and aging work against the other's.",
)
@pytest.mark.readonly
def test_computes_sharing_a_datastore_agree_on_cache_settings(vmware_computes, vcenters, record_property) -> None:
    from pyVmomi import vim

    uncovered = [f"{c.host}: {c.where}" for c in vmware_computes if c.conf is None]
    expect(not uncovered, f"{len(uncovered)} VMware compute(s) the cloud lists are not in the target's host "
           "inventory: their settings cannot be compared", expected="a nova.conf for every VMware compute",
           found="; ".join(uncovered), where="compute API os-hypervisors vs target hosts")
    sessions = {name: vcenters.get(name) for name in vcenters.names()}
    by_uuid = {si.RetrieveContent().about.instanceUuid: (name, si) for name, si in sessions.items()}
    users: dict[tuple[str, str], list] = defaultdict(list)  # (vCenter, datastore) -> computes that can use it
    clusters: dict[str, dict] = {}  # vCenter -> cluster moid -> its properties
    names: dict[str, dict] = {}  # vCenter -> datastore moref -> name
    for compute in vmware_computes:
        uuid = compute.hypervisor.split(".", 1)[1] if "." in compute.hypervisor else ""
        expect(uuid in by_uuid, f"compute {compute.host}'s hypervisor names a vCenter the target does not describe",
               expected=f"a vCenter with instance UUID {uuid or '?'} among {sorted(sessions)}",
               found=f"instance UUIDs {sorted(by_uuid)}", where=f"hypervisor {compute.hypervisor}")
        vc_name, si = by_uuid[uuid]
        if vc_name not in clusters:
            clusters[vc_name] = {c["obj"]._moId: c for c in retrieve(si, vim.ClusterComputeResource,
                                                                     ["name", "datastore"])}
            names[vc_name] = {d["obj"]: d["name"] for d in retrieve(si, vim.Datastore, ["name"])}
        cluster = clusters[vc_name].get(compute.cluster_moid)
        expect(cluster is not None, f"compute {compute.host} fronts a cluster vCenter {vc_name} does not have",
               expected=f"cluster {compute.cluster_moid}", found="no such cluster",
               where=f"hypervisor {compute.hypervisor}, {compute.where}")
        regex = compute.conf.get("vmware", "datastore_regex", fallback="").strip()
        for ds in cluster.get("datastore") or []:
            # What nova's ds_util.get_datastore chooses from: the cluster's datastores matching the regex.
            name = names[vc_name][ds]
            if not regex or re.match(regex, name):
                users[(vc_name, name)].append(compute)
    shared = {key: computes for key, computes in users.items() if len(computes) > 1}
    record_property("shared_datastores", "; ".join(
        f"{ds} ({vc}): {', '.join(c.host for c in computes)}" for (vc, ds), computes in sorted(shared.items()))
        or "none: each compute's datastores are its own")
    disagreements = []
    for (vc_name, ds), computes in sorted(shared.items()):
        settings = {c.host: _settings(c.conf) for c in computes}
        differing = sorted({key for s in settings.values() for key in s
                            if len({other[key] for other in settings.values()}) > 1})
        if differing:
            values = "; ".join(f"{host}: " + ", ".join(f"{k}={s[k]}" for k in differing)
                               + f" (cache folder {cache_folder(c.conf) or '<my_ip>_base'})"
                               for (host, s), c in zip(settings.items(), computes, strict=True))
            disagreements.append(f"datastore {ds} (vCenter {vc_name}) shared by "
                                 f"{', '.join(settings)}: {values}")
    expect(not disagreements, "computes sharing a datastore disagree on how they cache and clone images there: "
           + " | ".join(disagreements),
           expected="the same " + ", ".join(f"[{s}] {n}" for s, n in CACHE_OPTIONS) + " on every compute of a "
                    "shared datastore",
           found=" | ".join(disagreements),
           where="; ".join(f"{c.host}: {c.where}" for c in vmware_computes))
