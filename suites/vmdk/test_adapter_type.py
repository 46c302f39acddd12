"""VMDK-6: the root disk sits on the controller the image's vmware_adaptertype names."""

from __future__ import annotations

import pytest
from openstack import exceptions as os_exc

from stackproof.findings import CheckFailed, expect
from stackproof.image_transfer import timed_boot
from stackproof.servers import flavor_for, outcome
from stackproof.vmdk import monolithic_sparse
from suites.vmdk.images import cloud_vmdk_images
from suites.vmdk.nova_vmware import ADAPTER_CONTROLLERS, DEFAULT_ADAPTER, adapter_known
from suites.vmdk.vsphere_view import compute_of, root_disk, vcenter_of

pytestmark = [pytest.mark.vmdk]

PROBE_SIZE = 2**20  # a probe image: an empty 1 MiB sparse disk, ~64 KiB to upload


@pytest.mark.control(
    "SP-VMDK-006",
    title="The root disk's controller is the one vmware_adaptertype names",
    statement="Images in Glance carry the metadata the VMware driver builds the instance from: every "
              "vmware_adaptertype the cloud's VMDK images carry is one nova's driver knows, and it gives the root "
              "disk exactly that controller (LSI Logic, LSI Logic SAS, BusLogic, paravirtual, IDE).",
)
@pytest.mark.workload
def test_adapter_type_is_honoured(cloud, run, waiter, resources, vcenters, vmware_computes, record_property) -> None:
    images = cloud_vmdk_images(cloud, run.prefix)
    used: dict[str, list[str]] = {}
    for image in images:
        used.setdefault(image.properties.get("vmware_adaptertype") or DEFAULT_ADAPTER, []).append(image.image.name)
    used.setdefault(DEFAULT_ADAPTER, [])
    record_property("adapter_types", "; ".join(f"{a}: {', '.join(n) or 'nova default'}" for a, n in
                                                sorted(used.items())))

    def probe(adapter: str):
        """Boot an empty sparse image carrying `adapter`; (server or None, nova's answer)."""
        name = resources.name(f"vmdk6-{adapter}")
        image = resources.create("image", name=name, data=monolithic_sparse(PROBE_SIZE, file_name=f"{name}.vmdk"),
                                 disk_format="vmdk", container_format="bare", wait=True,
                                 timeout=waiter.timeouts.image_active, hypervisor_type="vmware",
                                 vmware_disktype="sparse", vmware_adaptertype=adapter)
        try:
            server = timed_boot(cloud, resources, waiter, image=image, flavor=flavor_for(cloud, image),
                                hint=f"vmdk6-{adapter}").value
        except CheckFailed as refused:  # nova refused the boot at its API
            return None, f"{refused.found} ({refused.where})"
        except os_exc.HttpException as exc:
            return None, f"HTTP {exc.status_code}: {exc.details or exc.message}"
        return server, outcome(server)

    results = {adapter: probe(adapter) for adapter in used}  # one at a time, as test_provisioning says why
    wrong, seen = [], []
    for adapter, (server, answer) in sorted(results.items()):
        known = adapter_known(adapter)
        wanted = ADAPTER_CONTROLLERS.get(known) if known else None
        found = answer
        if server is not None and server.status == "ACTIVE":
            compute = compute_of(vmware_computes, server)
            _vc_name, si = vcenter_of(vcenters, compute)
            disk = root_disk(si, server.id)
            found = f"root disk on {disk.controller}" if disk else "no root disk in vCenter"
        seen.append(f"{adapter}: {found}")
        images_with = ", ".join(used[adapter]) or "nova's default"
        if wanted is None:
            wrong.append(f"vmware_adaptertype={adapter} (images {images_with}) is not one nova's VMware driver "
                         f"knows: {found}")
        elif found != f"root disk on {wanted}":
            wrong.append(f"vmware_adaptertype={adapter} (images {images_with}) gave {found}, not {wanted}")
    record_property("controllers", "; ".join(seen))
    expect(not wrong, f"{len(wrong)} vmware_adaptertype value(s) of the cloud's images are not honoured: "
           + "; ".join(wrong),
           expected="; ".join(f"{a} -> {c}" for a, c in ADAPTER_CONTROLLERS.items()),
           found="; ".join(seen), where="Glance images (all projects), probe servers of this run")
