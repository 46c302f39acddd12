"""VMDK files: small ones built in memory, and the first bytes of any one read for what it really is.

`monolithic_sparse()` lays the file out as `qemu-img create -f vmdk -o subformat=monolithicSparse` does
(VMware's "hosted sparse extent": header, embedded descriptor, redundant and primary grain directories and
tables, no grain allocated), so Glance's format inspector accepts it as vmdk and the VMware driver handles it
with `vmware_disktype=sparse`. Every grain is unallocated: the disk reads as zeros.

`read_head()` tells from an image's first bytes (a ranged download from Glance is enough) which VMDK it is:
a hosted sparse extent (monolithicSparse, or streamOptimized with compressed grains), a text descriptor
without its extents, or no VMDK header at all (a flat extent: raw bytes, what a preallocated or thin disk
exported from VMFS is). `glance_verdict()` says whether glance 33 takes such an upload as disk_format vmdk.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

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


# --- reading -------------------------------------------------------------------------------------------------

HEAD_BYTES = 64 * 1024  # enough for the header and any embedded descriptor qemu-img or VMware writes
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
SPARSE_HEADER = struct.Struct("<4sIIQQQQ")  # magic, version, flags, capacity, grain, descriptor offset, size
TEXT_DESCRIPTOR = b"# Disk DescriptorFile"
# What glance 33's format inspector (oslo.utils VMDKInspector) accepts as vmdk: a sparse header whose
# descriptor's createType is one of these; any other createType fails its safety check, whatever the config.
GLANCE_VMDK_TYPES = ("monolithicSparse", "streamOptimized")
# vmware_disktype values of flat (headerless) images, as nova's VMware driver takes them
# (nova.virt.vmwareapi.constants.SUPPORTED_FLAT_VARIANTS).
FLAT_DISK_TYPES = frozenset({"preallocated", "thin", "thick", "eagerZeroedThick"})
_CREATE_TYPE = re.compile(r'createType\s*=\s*"([^"]{1,64})"', re.IGNORECASE)
_ADAPTER = re.compile(r'ddb\.adapterType\s*=\s*"([^"]{1,32})"', re.IGNORECASE)
_EXTENT = re.compile(r"^(?:RW|RDONLY|NOACCESS)\s+(\d+)\s", re.MULTILINE)


@dataclass(frozen=True)
class Head:
    """What an image's first bytes say it is."""

    kind: str  # "sparse" (KDMV header), "descriptor" (text only, no extent data), "flat" (no VMDK header)
    subformat: str  # createType ("monolithicSparse", "streamOptimized", ...), or "flat"
    capacity: int | None  # virtual size in bytes, when the header or descriptor states it
    compressed: bool = False
    adapter_type: str | None = None
    embedded: bool = False  # a sparse extent carrying its own descriptor (monolithicSparse, streamOptimized)

    @property
    def disk_types(self) -> frozenset[str]:
        """The vmware_disktype values that describe these bytes to nova's VMware driver."""
        if self.kind == "flat":
            return FLAT_DISK_TYPES
        if self.subformat == "monolithicSparse":
            return frozenset({"sparse"})
        if self.subformat == "streamOptimized":
            return frozenset({"streamOptimized"})
        return frozenset()

    def describe(self) -> str:
        if self.kind == "flat":
            return "a flat extent (no VMDK header: raw bytes)"
        size = f", capacity {self.capacity} bytes" if self.capacity is not None else ""
        what = "a text descriptor without its extents" if self.kind == "descriptor" else "a sparse extent"
        return f"{what}, createType {self.subformat}{size}"


def _descriptor_fields(text: str) -> tuple[str | None, str | None, int | None]:
    create = _CREATE_TYPE.search(text)
    adapter = _ADAPTER.search(text)
    sectors = [int(n) for n in _EXTENT.findall(text)]
    return (create.group(1) if create else None, adapter.group(1) if adapter else None,
            sum(sectors) * SECTOR if sectors else None)


def read_head(data: bytes) -> Head:
    """Classify an image by its first bytes (HEAD_BYTES of them hold everything this reads)."""
    if data[:4] == MAGIC and len(data) >= SPARSE_HEADER.size:
        _magic, _version, flags, capacity, _grain, desc_offset, desc_sectors = SPARSE_HEADER.unpack_from(data)
        start, end = desc_offset * SECTOR, (desc_offset + desc_sectors) * SECTOR
        text = data[start:end].split(b"\0", 1)[0].decode("ascii", "replace") if desc_offset else ""
        create, adapter, _size = _descriptor_fields(text)
        compressed = bool(flags & FLAG_COMPRESSED)
        subformat = create or ("streamOptimized" if compressed else "monolithicSparse")
        return Head("sparse", subformat, capacity * SECTOR, compressed, adapter, embedded=create is not None)
    if data.lstrip()[: len(TEXT_DESCRIPTOR)] == TEXT_DESCRIPTOR:
        create, adapter, size = _descriptor_fields(data.decode("ascii", "replace"))
        return Head("descriptor", create or "unknown", size, adapter_type=adapter)
    return Head("flat", "flat", None)


def glance_verdict(head: Head, require_format_match: bool) -> tuple[bool, str]:
    """Whether glance 33 stores an upload with these first bytes as disk_format vmdk, and why.

    From glance/location.py and oslo.utils' format inspector: the upload is inspected in flight; a sparse header
    whose embedded descriptor has an accepted createType matches vmdk (and sets virtual_size); another embedded
    createType matches vmdk but fails the safety check (always refused). Anything else does not match vmdk: a flat
    extent is detected as raw, a lone text descriptor as nothing at all; either is refused only while
    `[image_format] require_image_format_match` is on, and stored without virtual_size otherwise."""
    if head.kind == "sparse" and head.embedded and head.subformat in GLANCE_VMDK_TYPES:
        return True, f"{head.subformat} is a sparse-header VMDK glance inspects and accepts"
    if head.kind == "sparse" and head.embedded:
        return False, (f"createType {head.subformat} fails glance's VMDK safety check (only "
                       f"{', '.join(GLANCE_VMDK_TYPES)} pass), whatever the configuration")
    what = {"flat": "a flat extent reads as raw", "descriptor": "a lone descriptor reads as no format at all"}.get(
        head.kind, "a sparse extent without its descriptor does not read as vmdk")
    if require_format_match:
        return False, f"{what}, not vmdk: refused while [image_format] require_image_format_match is on"
    return True, (f"{what}, not vmdk: stored (without virtual_size) because [image_format] "
                  "require_image_format_match is off")
