"""AGG-4: Glance images carry the hypervisor metadata nova and the VMware driver accept."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.image_data import image_properties as properties
from suites.placement.nova_facts import HV_TYPES, VMDK_CONTAINER_FORMATS, VMWARE_ADAPTER_TYPES, VMWARE_DISK_TYPES

pytestmark = [pytest.mark.placement]


@pytest.mark.control(
    "SP-AGG-004",
    title="Images carry valid hypervisor and VMDK metadata",
    statement="Images in Glance carry hypervisor metadata; ESXi images are VMDK (thin, thick, zeroed-thick, "
              "eager-zeroed-thick).",
)
@pytest.mark.readonly
def test_glance_images_carry_valid_hypervisor_metadata(cloud, run) -> None:
    problems: list[tuple[str, str, str, str]] = []
    for image in cloud.image.images():
        if (image.name or "").startswith(run.prefix):
            continue  # this run's own fixtures, e.g. SP-AGG-009's deliberately untagged vmdk
        props = properties(image)
        name = f"image {image.name} ({image.id})"
        hv_type = props.get("hypervisor_type")
        if hv_type is not None and hv_type not in HV_TYPES:
            problems.append((name, "hypervisor_type is one nova accepts", f"hypervisor_type={hv_type}",
                             "nova raises ValueError at boot"))
        if image.disk_format != "vmdk":
            continue
        if hv_type != "vmware":
            problems.append((name, "hypervisor_type=vmware on a vmdk image", f"hypervisor_type={hv_type}",
                             "the image can land on a KVM host"))
        disk_type = props.get("vmware_disktype", "preallocated")
        if disk_type not in VMWARE_DISK_TYPES:
            problems.append((name, f"vmware_disktype in {sorted(VMWARE_DISK_TYPES)}",
                             f"vmware_disktype={disk_type}", "the VMware driver refuses it"))
        adapter = props.get("vmware_adaptertype", "lsiLogic")
        if adapter not in VMWARE_ADAPTER_TYPES:
            problems.append((name, f"vmware_adaptertype in {sorted(VMWARE_ADAPTER_TYPES)}",
                             f"vmware_adaptertype={adapter}", "the VMware driver refuses it"))
        if image.container_format not in VMDK_CONTAINER_FORMATS:
            problems.append((name, f"container_format in {sorted(VMDK_CONTAINER_FORMATS)}",
                             f"container_format={image.container_format}", "the VMware driver refuses it"))
    expect(not problems, f"{len(problems)} image metadata problem(s): "
           + "; ".join(f"{n}: {found} ({why})" for n, _e, found, why in problems),
           expected="; ".join(sorted({e for _n, e, _f, _w in problems})),
           found="; ".join(f"{n}: {f}" for n, _e, f, _w in problems), where="Glance images (all projects)")
