"""VMDK-5: each disk type gives the root disk the provisioning it stands for; a linked clone hangs off the cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from stackproof.findings import expect
from stackproof.image_transfer import timed_boot, upload
from stackproof.servers import flavor_for, outcome
from suites.vmdk.vsphere_view import compute_of, disk_file, image_cache_folders, root_disk, vcenter_of

pytestmark = [pytest.mark.vmdk]

IMAGE_SIZE = 64 * 2**20
# vmware_disktype -> whether the root disk of a full clone is thin. thin and preallocated are provisioning types;
# nova copies a sparse image into a preallocated disk (vmops._cache_sparse_image) and imports a streamOptimized
# one as a thin disk (images._build_import_spec_for_import_vapp); a full clone copies that cached disk.
FULL_CLONE_THIN = {"sparse": False, "streamOptimized": True, "preallocated": False, "thin": True}
# (recipe, vmware_linked_clone): full clones of every type, and a linked clone
CASES = [*((name, False) for name in FULL_CLONE_THIN), ("sparse", True)]


@pytest.mark.control(
    "SP-VMDK-005",
    title="Root disks are thin or thick as their image's disk type says; linked clones share the cached image",
    statement="ESXi images are VMDK (thin, thick, zeroed-thick, eager-zeroed-thick): a full clone's root disk "
              "is provisioned as its disk type says (thin stays thin, preallocated is thick), vCenter and the "
              "datastore agree on it, and a linked clone's root disk is a child of the image cached on the "
              "datastore.",
)
@pytest.mark.workload
def test_root_disks_are_provisioned_as_their_disk_type_says(cloud, waiter, resources, vcenters, vmware_computes,
                                                            build_image, record_property) -> None:
    images = {}
    for name, linked in CASES:
        built = build_image(name, IMAGE_SIZE)
        images[(name, linked)] = upload(resources, built, hint=f"vmdk5-{name}{'-linked' if linked else ''}",
                                        timeout=waiter.timeouts.image_active, properties={
                                            "hypervisor_type": "vmware", "vmware_disktype": built.recipe.disk_type,
                                            "vmware_adaptertype": "lsiLogic", "vmware_linked_clone": str(linked)}
                                        ).value
    flavor = flavor_for(cloud, next(iter(images.values())))

    def boot(case):
        name, linked = case
        return timed_boot(cloud, resources, waiter, image=images[case], flavor=flavor,
                          hint=f"vmdk5-{name}{'-linked' if linked else ''}").value

    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        servers = dict(zip(CASES, pool.map(boot, CASES), strict=True))
    wrong, seen = [], []
    for (name, linked), server in servers.items():
        image = images[(name, linked)]
        label = f"{name} ({'linked' if linked else 'full'} clone)"
        expect(server.status == "ACTIVE", f"a server from {label} image {image.name} did not boot",
               expected="ACTIVE", found=outcome(server), where=f"server {server.id}, image {image.id}")
        compute = compute_of(vmware_computes, server)
        vc_name, si = vcenter_of(vcenters, compute)
        disk = root_disk(si, server.id)
        expect(disk is not None, f"vCenter {vc_name} shows no root disk for server {server.id}",
               expected="a VM with a virtual disk", found="none", where=f"server {server.id}, image {image.id}")
        seen.append(f"{label}: {disk.describe()}")
        at = f"server {server.id} on {compute.host}, image {image.name}"
        if linked:
            ds_name = disk.file[1:].split("]", 1)[0]
            prefixes = [f"[{ds_name}] {folder}/{image.id}/" for folder in image_cache_folders(si, compute, ds_name)]
            if not (disk.parent and disk.parent.startswith(tuple(prefixes))):
                wrong.append(f"{label}: root disk's parent is {disk.parent or 'none'}, not the cached image "
                             f"under {' or '.join(prefixes)} ({at})")
            continue
        on_datastore = disk_file(si, disk.file)
        thin = FULL_CLONE_THIN[name]
        if disk.thin != thin or disk.eager:
            wrong.append(f"{label}: vCenter shows the root disk {'thin' if disk.thin else 'thick'}"
                         f"{' eagerly zeroed' if disk.eager else ''}, expected {'thin' if thin else 'thick'} ({at})")
        if on_datastore is None or on_datastore.thin is not disk.thin:
            wrong.append(f"{label}: the datastore shows {disk.file} "
                         f"{'missing' if on_datastore is None else 'thin=' + str(on_datastore.thin)} while vCenter's "
                         f"device says thin={disk.thin} ({at})")
    record_property("root_disks", "; ".join(seen))
    expect(not wrong, f"{len(wrong)} root disk(s) are not provisioned as their image's disk type says: "
           + "; ".join(wrong),
           expected="full clones: " + ", ".join(f"{k} -> {'thin' if v else 'thick'}" for k, v in
                                                FULL_CLONE_THIN.items())
                    + "; linked clones: parent under the image cache; vCenter and datastore agreeing",
           found="; ".join(seen), where="; ".join(f"server {s.id}" for s in servers.values()))
