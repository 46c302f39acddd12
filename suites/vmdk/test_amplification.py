"""VMDK-2: what each VMDK image costs to bring to a datastore, and images whose format makes that worse than
it needs to be."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.vmdk.images import cloud_vmdk_images, mib

pytestmark = [pytest.mark.vmdk]


def _amplification(moved: int, virtual: int) -> str:
    return f"{moved / virtual:.1%} of the virtual size" if virtual else "virtual size unknown"


@pytest.mark.control(
    "SP-VMDK-002",
    title="Each VMDK image's transfer size is known and no bigger than its format needs",
    statement="A thin VMFS disk exported to the Image service becomes a preallocated flat disk, so every "
              "transfer from the Image service to a data store moves the full preallocated flat disk rather "
              "than the thin disk: each image's transfer size is what its bytes are, and no image pays the flat "
              "price while claiming a thin or sparse disk.",
)
@pytest.mark.readonly
def test_each_vmdk_image_moves_what_its_format_implies(cloud, run, record_property) -> None:
    images = cloud_vmdk_images(cloud, run.prefix)
    problems: list[str] = []
    report: list[str] = []
    for image in images:
        moved, virtual, head = image.image.size or 0, image.virtual_size, image.head
        sparse_copy = moved if head.kind == "sparse" else None  # a flat extent's data is unknown without reading it
        report.append(f"{image.image.name}: {head.subformat}, vmware_disktype={image.disk_type}, moves "
                      f"{mib(moved)} per datastore ({_amplification(moved, virtual)}, virtual {mib(virtual)})"
                      + (f", a sparse copy {mib(sparse_copy)}" if sparse_copy is not None else ""))
        if image.disk_type not in head.disk_types:
            problems.append(f"{image.name} says vmware_disktype={image.disk_type} but holds {head.describe()}: "
                            "nova's driver handles it as the wrong kind of disk")
        elif head.kind == "sparse" and virtual and moved >= virtual:
            problems.append(f"{image.name} is {head.subformat} yet moves {mib(moved)} for a {mib(virtual)} disk: "
                            "no smaller than the flat disk")
        elif head.kind == "flat" and image.disk_type == "thin":
            problems.append(f"{image.name} says vmware_disktype=thin but is a flat extent of the full "
                            f"{mib(virtual)}: every first boot on a datastore moves all of it, as a preallocated "
                            "disk would (convert it to streamOptimized to move only its data)")
    record_property("amplification", "; ".join(report) or "no VMDK images")
    record_property("measure.vmdk_images", len(images))
    record_property("measure.moved_bytes_total", sum(i.image.size or 0 for i in images))
    record_property("measure.virtual_bytes_total", sum(i.virtual_size for i in images))
    record_property("measure.flat_bytes_total", sum(i.image.size or 0 for i in images if i.head.kind == "flat"))
    expect(not problems, f"{len(problems)} VMDK image(s) move more than their disk type promises, or are not "
           "what they say: " + "; ".join(problems),
           expected="vmware_disktype matching the image's bytes (sparse: monolithicSparse, streamOptimized: "
                    "streamOptimized, preallocated: a flat extent); sparse formats smaller than the disk; no "
                    "full-size flat extent labelled thin",
           found="; ".join(problems), where="Glance images (all projects): " + "; ".join(report))
