"""Small VMDK files built in memory, for checks that upload their own image (no qemu-img on the runner).

`monolithic_sparse()` lays the file out as `qemu-img create -f vmdk -o subformat=monolithicSparse` does
(VMware's "hosted sparse extent": header, embedded descriptor, redundant and primary grain directories and
tables, no grain allocated), so Glance's format inspector accepts it as vmdk and the VMware driver handles it
with `vmware_disktype=sparse`. Every grain is unallocated: the disk reads as zeros.
"""

from __future__ import annotations

import struct

SECTOR = 512
GRAIN_SECTORS = 128  # 64 KiB grains, as qemu-img and VMware write them
GTES_PER_GT = 512
DESCRIPTOR_SECTORS = 20  # qemu-img reserves 10 KiB for the embedded descriptor
# flags: bit 0 valid newline-detection test, bit 1 redundant grain table in use
FLAGS = 0x3
MAGIC = b"KDMV"


def _sectors_for(nbytes: int) -> int:
    return -(-nbytes // SECTOR)


def monolithic_sparse(virtual_size: int, *, file_name: str = "disk.vmdk", adapter_type: str = "lsilogic",
                      cid: int = 0x5350_0001) -> bytes:
    """A monolithicSparse VMDK of `virtual_size` bytes (a multiple of 512) with no data in it."""
    if virtual_size <= 0 or virtual_size % SECTOR:
        raise ValueError(f"virtual size {virtual_size} is not a positive multiple of {SECTOR}")
    capacity = virtual_size // SECTOR
    grains = -(-capacity // GRAIN_SECTORS)
    tables = -(-grains // GTES_PER_GT)
    directory_sectors = _sectors_for(tables * 4)
    table_sectors = _sectors_for(GTES_PER_GT * 4)
    rgd_offset = 1 + DESCRIPTOR_SECTORS
    rgt_offset = rgd_offset + directory_sectors
    gd_offset = rgt_offset + tables * table_sectors
    gt_offset = gd_offset + directory_sectors
    end = gt_offset + tables * table_sectors
    overhead = -(-end // GRAIN_SECTORS) * GRAIN_SECTORS

    header = struct.pack(
        "<4sIIQQQQIQQQB4sH",
        MAGIC, 1, FLAGS, capacity, GRAIN_SECTORS, 1, DESCRIPTOR_SECTORS, GTES_PER_GT,
        rgd_offset, gd_offset, overhead, 0, b"\n \r\n", 0,
    )
    cylinders = min(capacity // (255 * 63), 65535)
    descriptor = (
        "# Disk DescriptorFile\n"
        "version=1\n"
        f"CID={cid:08x}\n"
        "parentCID=ffffffff\n"
        'createType="monolithicSparse"\n'
        "\n"
        "# Extent description\n"
        f'RW {capacity} SPARSE "{file_name}"\n'
        "\n"
        "# The Disk Data Base\n"
        "#DDB\n"
        "\n"
        'ddb.virtualHWVersion = "4"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        'ddb.geometry.heads = "255"\n'
        'ddb.geometry.sectors = "63"\n'
        f'ddb.adapterType = "{adapter_type}"\n'
    ).encode("ascii")
    if len(descriptor) > DESCRIPTOR_SECTORS * SECTOR:
        raise ValueError("descriptor does not fit its reserved sectors")

    image = bytearray(overhead * SECTOR)
    image[: len(header)] = header
    image[SECTOR : SECTOR + len(descriptor)] = descriptor
    for directory, first_table in ((rgd_offset, rgt_offset), (gd_offset, gt_offset)):
        entries = struct.pack(f"<{tables}I", *(first_table + i * table_sectors for i in range(tables)))
        image[directory * SECTOR : directory * SECTOR + len(entries)] = entries
    return bytes(image)
