"""BLK-6: a volume of the KVM type attaches to a KVM server through its compute host, keeps what that host wrote
to it, and is available again after detach.

The data goes the way a guest's writes go: the compute host writes through the attached volume (the file on
the NFS share nova mounted, or the iSCSI device), and cinder reads it back from the storage after the detach
(an upload to a qcow2 image, of which only the written range is read).
"""

from __future__ import annotations

import contextlib
import shlex

import pytest

from stackproof.findings import expect
from stackproof.qcow2 import Qcow2Error, read_disk
from stackproof.servers import KVM_HV_TYPE, flavor_for, image_for, running_on
from suites.block_storage.cinder_facts import protocol_fits
from suites.block_storage.compute_hosts import compute_hosts, kvm_device_path, usable_compute
from suites.block_storage.volumes import (
    attach,
    attached_to,
    cinder_messages,
    describe,
    designed_type,
    detach,
    new_volume,
    settle,
)

pytestmark = [pytest.mark.block_storage]

SECTOR = 512
PATTERN_SECTOR = 2048  # 1 MiB into the volume: clear of anything a tool writes at its start


def read_back(cloud, resources, waiter, volume, start: int, length: int) -> tuple[bytes, str]:
    """`length` bytes at `start` of `volume` as the storage holds them: cinder uploads the volume to a qcow2
    image (registered in the ledger first; only written clusters travel), and the range is read out of it."""
    name = resources.name("blk6-readback")
    entry = resources.intend("image", name)
    answer = cloud.block_storage.upload_volume_to_image(volume, name, force=False, disk_format="qcow2",
                                                        container_format="bare")
    image_id = answer["image_id"]
    resources.created(entry, image_id)
    image = waiter.until(lambda: cloud.image.find_image(image_id, ignore_missing=True), limit="image_active",
                         until=lambda i: i is None or i.status in ("active", "killed", "deleted"),
                         state=lambda i: "gone" if i is None else i.status,
                         description=f"cinder's upload of volume {volume.name} to image {name}")
    uploaded = settle(cloud, waiter, volume, f"volume {volume.name} to be available after its upload")
    at = f"{describe(uploaded)}, image {name} ({image_id})"
    expect(image is not None and image.status == "active", f"cinder could not read volume {volume.name} back",
           expected=f"image {name} active", found=f"image {'gone' if image is None else image.status}; cinder "
           f"says: {cinder_messages(cloud, volume.id)}", where=at)
    try:
        return read_disk(ImageFile(cloud, image_id).read, start, length), image_id
    except Qcow2Error as exc:
        expect(False, f"the image cinder made of volume {volume.name} cannot be read", expected="a qcow2 image",
               found=str(exc), where=at)
        raise


class ImageFile:
    """Byte ranges of an image's data (HTTP Range requests; a Glance that ignores them sends the whole file,
    which is then kept)."""

    def __init__(self, cloud, image_id: str) -> None:
        self._cloud, self._id, self._whole = cloud, image_id, None

    def read(self, start: int, size: int) -> bytes:
        if self._whole is not None:
            return self._whole[start:start + size]
        response = self._cloud.image.get(f"/images/{self._id}/file",
                                         headers={"Range": f"bytes={start}-{start + size - 1}"})
        expect(response.status_code in (200, 206), f"image {self._id} cannot be downloaded",
               expected="HTTP 206 or 200", found=f"HTTP {response.status_code}",
               where=f"image {self._id}, request {response.headers.get('x-openstack-request-id')}")
        if response.status_code == 200:
            self._whole = response.content
            return self._whole[start:start + size]
        return response.content


@pytest.mark.control(
    "SP-BLK-006",
    title="A volume attaches to a KVM server, keeps what its host writes, and detaches",
    statement="Shared storage serves Block Storage (Cinder) to KVM instances, over a dedicated data network "
              "with dedicated NICs on the compute hosts.",
)
@pytest.mark.workload
def test_volume_attaches_to_a_kvm_server_and_keeps_its_data(cloud, run, hosts, target, volume_design, resources,
                                                             waiter) -> None:
    design = designed_type(volume_design, "kvm")
    computes = compute_hosts(cloud, hosts, KVM_HV_TYPE)
    name = usable_compute(cloud, KVM_HV_TYPE, among=[c.name for c in computes])
    compute = next(c for c in computes if c.name == name)
    image = image_for(cloud, "qcow2", KVM_HV_TYPE, run.prefix)
    flavor = flavor_for(cloud, image)
    server = running_on(cloud, resources, waiter, host=name, image=image, flavor=flavor, hint="blk6-kvm")

    volume = new_volume(cloud, resources, waiter, design, "blk6-data")
    attached = attached_to(cloud, server, attach(cloud, waiter, server, volume), host_name=name)
    at = f"{describe(attached.volume)}, server {server.id} on {compute.where}"
    expect(protocol_fits(attached.driver_volume_type, "kvm"), f"volume {volume.name} reached the KVM host over a "
           "transport KVM does not attach", expected="an os-brick transport (nfs, iscsi, rbd, fc, nvmeof, ...)",
           found=f"driver_volume_type {attached.driver_volume_type}", where=at)
    path = kvm_device_path(attached.connection, compute)
    if path is None:
        pytest.skip(f"volume {volume.name} is attached over {attached.driver_volume_type}, which shows no path on "
                    "the host to write through (this check writes through nfs and iscsi attachments)")

    token = f"{run.prefix}{volume.id}".encode()
    command = (f"printf '%s' {shlex.quote(token.decode())} | dd of={shlex.quote(path)} bs={SECTOR} "
               f"seek={PATTERN_SECTOR} count=1 conv=sync,notrunc,fsync status=none")
    # nova's mounts and iSCSI devices belong to root: a non-root connection writes through sudo.
    with compute.host.sudo() if compute.host.user().uid != 0 else contextlib.nullcontext():
        write = compute.host.run(command)
    expect(write.rc == 0, f"the compute host {name} could not write through attached volume {volume.name}",
           expected=f"dd to {path} exits 0", found=f"exit {write.rc}: {(write.stderr or write.stdout).strip()}",
           where=f"{at}, {path}")

    detached = detach(cloud, waiter, server, attached.volume)

    start = PATTERN_SECTOR * SECTOR
    data, image_id = read_back(cloud, resources, waiter, detached, start, len(token))
    expect(data == token, f"what {name} wrote through volume {volume.name} did not come back from the storage",
           expected=f"{len(token)} bytes {token.decode()!r} at byte {start}", found=repr(data[:80]),
           where=f"{at}, written at {path}, read back through image {image_id}")
