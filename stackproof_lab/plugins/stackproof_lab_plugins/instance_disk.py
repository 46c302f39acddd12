"""The root disk of a lab KVM guest, kept as nova's libvirt driver keeps it, and its snapshot.

A guest booted from an image gets what libvirt's qcow2 image backend gives it: the image downloaded once
per host into ``<instances_path>/_base/<sha1 of the image id>`` (in the image's own format), and
``<instances_path>/<uuid>/disk``, a qcow2 overlay on that base, as large as the flavor's root disk. A
snapshot is what libvirt's cold snapshot makes: the overlay and its base flattened by ``qemu-img convert``
into one qcow2 file, uploaded to glance as the snapshot image's data. No guest ever writes to the disk
(the lab has no hypervisor), so a snapshot holds exactly the image it booted from, at the flavor's size.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading

from oslo_concurrency import processutils

QEMU_IMG_TIMEOUT = 300  # seconds; a lab image is a few hundred KiB, a busy 2-core machine all the same
GIB = 1024**3

# glance disk_format -> qemu-img's name of the format (libvirt's images.py does the same mapping).
_QEMU_FORMATS = {"qcow2": "qcow2", "vdi": "vdi", "vhd": "vpc", "vhdx": "vhdx", "vmdk": "vmdk"}

_base_locks: dict[str, threading.Lock] = {}
_base_locks_guard = threading.Lock()


def qemu_format(disk_format: str | None) -> str:
    """qemu-img's format for a glance disk_format; raw for raw, iso and the ami family."""
    return _QEMU_FORMATS.get(disk_format or "raw", "raw")


def instance_dir(instances_path: str, uuid: str) -> str:
    return os.path.join(instances_path, uuid)


def disk_path(instances_path: str, uuid: str) -> str:
    return os.path.join(instance_dir(instances_path, uuid), "disk")


def _qemu_img(*args: str) -> None:
    processutils.execute("qemu-img", *args, timeout=QEMU_IMG_TIMEOUT)


def _base_lock(path: str) -> threading.Lock:
    with _base_locks_guard:
        return _base_locks.setdefault(path, threading.Lock())


def cached_base(instances_path: str, image_id: str, download) -> str:
    """The host's copy of image ``image_id`` (``download(dest_path)`` fetches it once per host)."""
    base_dir = os.path.join(instances_path, "_base")
    base = os.path.join(base_dir, hashlib.sha1(image_id.encode()).hexdigest())
    with _base_lock(base):
        if not os.path.exists(base):
            os.makedirs(base_dir, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=base_dir, prefix=".download-")
            os.close(fd)
            try:
                download(partial)
                os.replace(partial, base)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    return base


def create(instances_path: str, uuid: str, base: str, base_format: str, root_gb: int) -> str:
    """The guest's disk: a qcow2 overlay on ``base``, ``root_gb`` large (the image's size when 0)."""
    disk = disk_path(instances_path, uuid)
    os.makedirs(os.path.dirname(disk), exist_ok=True)
    size = [str(root_gb * GIB)] if root_gb else []
    _qemu_img("create", "-f", "qcow2", "-b", base, "-F", base_format, disk, *size)
    return disk


def flatten(disk: str, work_dir: str) -> str:
    """A standalone qcow2 copy of ``disk`` (its backing chain merged) in a new file under ``work_dir``;
    the caller removes it."""
    os.makedirs(work_dir, exist_ok=True)
    fd, out = tempfile.mkstemp(dir=work_dir, prefix="snapshot-", suffix=".qcow2")
    os.close(fd)
    try:
        _qemu_img("convert", "-f", "qcow2", "-O", "qcow2", disk, out)
    except Exception:
        os.unlink(out)
        raise
    return out


def remove(instances_path: str, uuid: str) -> None:
    shutil.rmtree(instance_dir(instances_path, uuid), ignore_errors=True)
