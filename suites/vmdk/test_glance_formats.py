"""VMDK-1: Glance's format settings accept the VMDK images the cloud holds."""

from __future__ import annotations

from collections import Counter

import pytest

from stackproof.findings import expect
from stackproof.vmdk import GLANCE_VMDK_TYPES, glance_verdict
from suites.vmdk.images import cloud_vmdk_images

pytestmark = [pytest.mark.vmdk]


@pytest.mark.control(
    "SP-VMDK-001",
    title="Glance's format settings accept the cloud's VMDK images",
    statement="Images for ESXi use the VMDK format: Glance takes vmdk images in a bare container, and its "
              "upload format check (glance 33: [image_format] require_image_format_match) accepts every kind "
              "of VMDK the cloud holds, flat extents exported from VMFS included.",
)
@pytest.mark.readonly
def test_glance_accepts_the_vmdk_images_it_holds(cloud, run, glance_formats, record_property) -> None:
    settings = glance_formats
    expect("vmdk" in settings.disk_formats and "bare" in settings.container_formats,
           "Glance does not take vmdk images in a bare container",
           expected="disk_formats includes vmdk, container_formats includes bare",
           found=f"disk_formats={','.join(settings.disk_formats)}; "
                 f"container_formats={','.join(settings.container_formats)}", where=settings.where)
    accepted = list(GLANCE_VMDK_TYPES) + ([] if settings.require_format_match else ["flat extents"])
    record_property("glance.accepts_vmdk", ", ".join(accepted))
    images = cloud_vmdk_images(cloud, run.prefix)
    kinds = Counter(i.head.subformat for i in images)
    record_property("vmdk_images", ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "none")
    refused = []
    for image in images:
        ok, why = glance_verdict(image.head, settings.require_format_match)
        if not ok:
            refused.append(f"{image.name}: {image.head.describe()}: {why}")
    expect(not refused, f"Glance would refuse {len(refused)} of the cloud's VMDK images if they were uploaded "
           "today (they stay, but cannot be uploaded, copied or imported again): " + "; ".join(refused),
           expected=f"every VMDK image is one of {', '.join(accepted)}, or "
                    "[image_format] require_image_format_match=false where flat extents are held",
           found=f"require_image_format_match={settings.require_format_match}; " + "; ".join(refused),
           where=f"{settings.where}; Glance images (all projects)")
