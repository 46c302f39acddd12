"""VMDK-3: what Glance does with each kind of VMDK upload is what its format settings say it does."""

from __future__ import annotations

import pytest
from openstack import exceptions as os_exc

from stackproof.findings import expect
from stackproof.image_transfer import upload
from stackproof.vmdk import HEAD_BYTES, glance_verdict, read_head

pytestmark = [pytest.mark.vmdk]

UPLOAD_SIZE = 16 * 2**20  # virtual size of the uploaded images: small, the behaviour does not depend on it
RECIPES = ("sparse", "streamOptimized", "preallocated", "thin", "descriptor")


@pytest.mark.control(
    "SP-VMDK-003",
    title="Glance stores or refuses each kind of VMDK upload as its format settings say",
    statement="Images for ESXi use the VMDK format, sparse or flat: a sparse VMDK uploaded to the Image service "
              "goes active with its virtual size; a flat extent is stored only when the format check allows it "
              "and refused with 400 otherwise; a descriptor without its extent is refused.",
)
@pytest.mark.workload
def test_vmdk_uploads_meet_the_format_settings(cloud, waiter, resources, glance_formats, build_image,
                                               record_property) -> None:
    outcomes, wrong = [], []
    for name in RECIPES:
        built = build_image(name, UPLOAD_SIZE)
        with open(built.path, "rb") as f:
            head = read_head(f.read(HEAD_BYTES))
        should, why = glance_verdict(head, glance_formats.require_format_match)
        try:
            image = cloud.image.get_image(upload(resources, built, hint=f"vmdk3-{name}",
                                                 timeout=waiter.timeouts.image_active,
                                                 properties={"vmware_disktype": built.recipe.disk_type}).value.id)
            stored, answer = image.status == "active", f"{image.status}, virtual_size {image.virtual_size}"
        except os_exc.HttpException as exc:
            image, stored, answer = None, False, f"HTTP {exc.status_code}: {exc.details or exc.message}"
        outcomes.append(f"{name} ({head.subformat}): {'stored' if stored else 'refused'} ({answer})")
        if stored != should:
            wrong.append(f"{name} ({head.describe()}) was {'stored' if stored else 'refused'}, but {why} "
                         f"[{answer}]")
        elif stored and head.kind == "sparse" and image.virtual_size != built.virtual_size:
            wrong.append(f"{name} was stored with virtual_size {image.virtual_size}, not the disk's "
                         f"{built.virtual_size}")
    record_property("uploads", "; ".join(outcomes))
    expect(not wrong, f"Glance handled {len(wrong)} VMDK upload(s) otherwise than its settings say: "
           + "; ".join(wrong),
           expected="sparse-header VMDKs stored with their virtual size; flat extents stored only with "
                    f"require_image_format_match off (here {glance_formats.require_format_match}); descriptors "
                    "refused", found="; ".join(outcomes), where=f"Glance image API; {glance_formats.where}")
