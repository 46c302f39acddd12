"""Lab self-test: what OpenStack's own suite expects of a cloud, and the lab once lacked.

List filters honoured by cinder-api, glance's metadata definitions loaded, trusts created by glance for an
upload, and a KVM server snapshot that uploads its disk and goes active.
"""

from __future__ import annotations

import re
import uuid

import pytest

pytestmark = pytest.mark.lab

RUN = uuid.uuid4().hex[:8]
QCOW2_MAGIC = b"QFI\xfb"


def test_cinder_honours_the_name_filter_of_a_volume_list(lab, member) -> None:
    names = [f"sp-labtest-filter-{RUN}-{n}" for n in ("a", "b")]
    volumes = [member.block_storage.create_volume(size=1, name=name) for name in names]
    try:
        listed = member.block_storage.get(f"/volumes?name={names[0]}").json()["volumes"]
        assert [v["name"] for v in listed] == [names[0]], "cinder-api dropped the ?name= filter"
    finally:
        for volume in volumes:
            member.block_storage.wait_for_status(volume, "available", wait=60, interval=1)
            member.block_storage.delete_volume(volume, ignore_missing=True)


def test_glance_serves_the_metadata_definitions_its_package_ships(lab) -> None:
    shipped = list((lab.state / "venv" / "etc" / "glance" / "metadefs").glob("*.json"))
    admin = lab.connect("sp-lab-admin")
    namespaces = admin.image.get("/metadefs/namespaces?limit=1000").json()["namespaces"]
    assert shipped and len(namespaces) >= len(shipped), f"{len(namespaces)} namespaces, {len(shipped)} files"
    assert "OS::Compute::Hypervisor" in {n["namespace"] for n in namespaces}


TRUST_CREATED = r"POST /v3/OS-TRUST/trusts => .*\(HTTP/1\.1 201\)"  # keystone's uWSGI request log
NO_TRUST = "Unable to create trust"  # glance-api, when it goes on with the user's token


def _count(lab, log: str, pattern: str) -> int:
    """Lines matching ``pattern`` in the controller's log ``log`` (under /var/log)."""
    text = (lab.state / "hosts" / "controller" / "log" / log).read_text(errors="replace")
    return len(re.findall(pattern, text))


def test_kvm_server_snapshot_uploads_its_disk_and_glance_makes_a_trust_for_it(lab, member) -> None:
    before = _count(lab, "keystone/keystone.log", TRUST_CREATED), _count(lab, "glance/glance-api.log", NO_TRUST)
    with lab.server(member, f"sp-labtest-snap-{RUN}", image="sp-qemu-qcow2") as server:
        image = member.compute.create_server_image(server, name=f"sp-labtest-snap-{RUN}", wait=True, timeout=120)
    try:
        image = member.image.get_image(image.id)
        assert image.status == "active" and image.disk_format == "qcow2" and image.size > 0, image
        head = next(member.image.download_image(image, stream=True).iter_content(4))
        assert head == QCOW2_MAGIC, f"snapshot data starts with {head!r}, not a qcow2 header"
        print(f"snapshot {image.id}: {image.size} bytes")
    finally:
        member.image.delete_image(image, ignore_missing=True)
    after = _count(lab, "keystone/keystone.log", TRUST_CREATED), _count(lab, "glance/glance-api.log", NO_TRUST)
    assert after[1] == before[1], "glance-api could not create a trust for the snapshot's upload (see its log)"
    assert after[0] > before[0], "keystone created no trust during the snapshot's upload"
