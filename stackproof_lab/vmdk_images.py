"""The lab's VMDK images beyond the sparse one every area boots: one per transfer format the architecture names,
each with data in it (so that what moves to a datastore differs by format, as it does for a real disk).

- ``sp-vmware-stream-vmdk``: streamOptimized (compressed grains), what nova's snapshots are and what
  glance 33 accepts as vmdk;
- ``sp-vmware-flat-vmdk``: a preallocated flat extent, what a disk exported from VMFS becomes: every byte of
  the virtual size moves to the datastore. Glance accepts it only with ``[image_format]
  require_image_format_match`` off (configs/glance.py), since the extent reads as raw.

Both are larger than ``sp-vmware-sparse-vmdk`` (no data), so the areas that boot "the cloud's smallest VMware
image" keep booting that one; the vmdk area and its faults use these.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

VIRTUAL_SIZE = 64 * 2**20  # below every flavor's disk
DATA_SIZE = 4 * 2**20  # random (incompressible) bytes at the start of the disk, the rest zeros
SEED = 15  # same bytes on every lab


def _raw(path: Path) -> None:
    with open(path, "wb") as f:
        f.write(random.Random(SEED).randbytes(DATA_SIZE))
        f.truncate(VIRTUAL_SIZE)


def _stream_optimized(path: Path) -> None:
    raw = path.with_suffix(".raw")
    _raw(raw)
    try:
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                        "subformat=streamOptimized,adapter_type=lsilogic", str(raw), str(path)],
                       check=True, capture_output=True, text=True, timeout=120)
    finally:
        raw.unlink(missing_ok=True)


# Entries in provision.IMAGES' shape; `build` writes the image file (instead of `qemu-img create`).
IMAGES = [
    {
        "name": "sp-vmware-stream-vmdk",
        "disk_format": "vmdk",
        "build": _stream_optimized,
        "properties": {
            "hypervisor_type": "vmware",
            "vmware_disktype": "streamOptimized",
            "vmware_adaptertype": "lsiLogic",
            "os_type": "linux",
        },
    },
    {
        "name": "sp-vmware-flat-vmdk",
        "disk_format": "vmdk",
        # The flat extent qemu-img writes for subformat=monolithicFlat is this raw file, byte for byte.
        "build": _raw,
        "properties": {
            "hypervisor_type": "vmware",
            "vmware_disktype": "preallocated",
            "vmware_adaptertype": "lsiLogic",
            "os_type": "linux",
        },
    },
]
