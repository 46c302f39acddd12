"""VMDK-5: each disk type gives the root disk the provisioning it stands for; a linked clone hangs off the cache."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.image_transfer import timed_boot, upload
from stackproof.servers import flavor_for, outcome, where
from suites.vmdk.vsphere_view import compute_of, disk_file, image_cache_folders, root_disk, vcenter_of

pytestmark = [pytest.mark.vmdk]

IMAGE_SIZE = 16 * 2**20  # small: what is checked does not depend on the size
# vmware_disktype -> whether the root disk of a full clone is thin. thin and preallocated are provisioning types;
# nova copies a sparse image into a preallocated disk (vmops._cache_sparse_image) and imports a streamOptimized
# one as a thin disk (images._build_import_spec_for_import_vapp); a full clone copies that cached disk.
FULL_CLONE_THIN = {"sparse": False, "streamOptimized": True, "preallocated": False, "thin": True}
# (recipe, vmware_linked_clone): a full clone of every type, and a linked clone
CASES = [*((name, False) for name in FULL_CLONE_THIN), ("sparse", True)]


def _kind(thin: bool, eager: bool = False) -> str:
    return "thin" if thin else ("eagerZeroedThick" if eager else "thick")


@pytest.mark.control(
    "SP-VMDK-005",
    title="Root disks are thin or thick as their image's disk type says; linked clones share the cached image",
    statement="ESXi images are VMDK (thin, thick, zeroed-thick, eager-zeroed-thick): a full clone's root disk "
              "is provisioned as its disk type says (thin stays thin, preallocated is thick), vCenter and the "
              "datastore agree on it, and a linked clone's root disk is a child of the image cached on the "
              "datastore.",
)
@pytest.mark.workload
@pytest.mark.parametrize(("recipe", "linked"), CASES, ids=[f"{n}-{'linked' if k else 'full'}" for n, k in CASES])
def test_root_disk_is_provisioned_as_its_disk_type_says(recipe, linked, cloud, waiter, resources, vcenters,
                                                        vmware_computes, build_image, record_property) -> None:
    built = build_image(recipe, IMAGE_SIZE)
    label = f"{recipe} ({'linked' if linked else 'full'} clone)"
    hint = f"vmdk5-{recipe}-{'linked' if linked else 'full'}"
    image = upload(resources, built, hint=hint, timeout=waiter.timeouts.image_active, properties={
        "hypervisor_type": "vmware", "vmware_disktype": built.recipe.disk_type, "vmware_adaptertype": "lsiLogic",
        "vmware_linked_clone": str(linked)}).value
    flavor = flavor_for(cloud, image)
    server = timed_boot(cloud, resources, waiter, image=image, flavor=flavor, hint=hint).value
    at = where(cloud, server, image, flavor)
    expect(server.status == "ACTIVE", f"a server from {label} image {image.name} did not boot", expected="ACTIVE",
           found=outcome(server), where=at)
    compute = compute_of(vmware_computes, server)
    vc_name, si = vcenter_of(vcenters, compute)
    disk = root_disk(si, server.id)
    expect(disk is not None, f"vCenter {vc_name} shows no root disk for server {server.id}",
           expected="a VM with a virtual disk", found="none", where=at)
    record_property("root_disk", f"{label}: {disk.describe()}")
    if linked:
        ds_name = disk.file[1:].split("]", 1)[0]
        prefixes = [f"[{ds_name}] {folder}/{image.id}/" for folder in image_cache_folders(si, compute, ds_name)]
        expect(bool(disk.parent) and disk.parent.startswith(tuple(prefixes)),
               f"the root disk of linked clone {server.id} is not a child of the cached image",
               expected=f"backing parent under {' or '.join(prefixes)}", found=disk.describe(),
               where=f"{at}, compute {compute.host}, vCenter {vc_name}")
        return
    thin = FULL_CLONE_THIN[recipe]
    on_datastore = disk_file(si, disk.file)
    found = (f"vCenter: {_kind(disk.thin, disk.eager)}; datastore: "
             + ("no such disk" if on_datastore is None else _kind(bool(on_datastore.thin))))
    expect(disk.thin is thin and not disk.eager and on_datastore is not None and on_datastore.thin is thin,
           f"the root disk of a full clone of {label} image {image.name} is not {_kind(thin)}",
           expected=f"{_kind(thin)} in vCenter and on the datastore ("
                    + ", ".join(f"{k} -> {_kind(v)}" for k, v in FULL_CLONE_THIN.items()) + ")",
           found=f"{found} ({disk.file})", where=f"{at}, compute {compute.host}, vCenter {vc_name}")
