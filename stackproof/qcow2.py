"""Reading a range of a disk out of a qcow2 file, for checks that read a volume back through an image.

A volume uploaded as qcow2 carries only the clusters that hold data, so a 1 GiB volume with a few bytes
written travels as a few hundred KiB instead of a GiB. This reads the guest view of it (what the volume
held): header, L1 and L2 tables, data clusters, as the qcow2 specification (qemu docs/interop/qcow2.txt)
lays them out. Unallocated and zero clusters read as zeros, and deflate-compressed clusters are inflated
(cinder compresses what it uploads: image_compress_on_upload). Backing files, encryption, zstd and extended
L2 entries are refused: cinder's `qemu-img convert -O qcow2 [-c]` writes none of them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

MAGIC = b"QFI\xfb"
HEADER = struct.Struct(">4sIQIIQIIQQIIQ")  # up to snapshots_offset: the fields versions 2 and 3 share
OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00
COMPRESSED = 1 << 62
ZERO = 1  # qcow2 v3: the cluster reads as zeros
INCOMPATIBLE_EXTENDED_L2 = 1 << 4
DEFLATE_WINDOW = -12  # raw deflate, 4 KiB window: how qemu compresses clusters


class Qcow2Error(ValueError):
    """The bytes are not a qcow2 image this reader can read."""


def read_disk(fetch: Callable[[int, int], bytes], offset: int, length: int) -> bytes:
    """`length` bytes of the disk at `offset`, where `fetch(start, size)` returns bytes of the qcow2 file."""
    header = fetch(0, 112)
    if len(header) < HEADER.size or header[:4] != MAGIC:
        raise Qcow2Error(f"not a qcow2 image (magic {header[:4]!r})")
    (_magic, version, backing_offset, _backing_size, cluster_bits, size, crypt, l1_size, l1_offset,
     *_rest) = HEADER.unpack_from(header)
    if version not in (2, 3):
        raise Qcow2Error(f"qcow2 version {version} is not 2 or 3")
    if backing_offset or crypt:
        raise Qcow2Error("qcow2 image with a backing file or encryption")
    if version == 3:
        if struct.unpack_from(">Q", header, 72)[0] & INCOMPATIBLE_EXTENDED_L2:
            raise Qcow2Error("qcow2 image with extended L2 entries")
        header_length = struct.unpack_from(">I", header, 100)[0]
        if header_length > 104 and header[104] != 0:
            raise Qcow2Error(f"qcow2 compression type {header[104]} is not deflate")
    if offset < 0 or offset + length > size:
        raise Qcow2Error(f"range {offset}+{length} is outside the {size}-byte disk")
    cluster = 1 << cluster_bits
    per_table = cluster // 8
    out = bytearray()
    while len(out) < length:
        position = offset + len(out)
        index, within = divmod(position, cluster)
        take = min(cluster - within, length - len(out))
        l1_index, l2_index = divmod(index, per_table)
        if l1_index >= l1_size:
            raise Qcow2Error(f"cluster {index} is beyond the L1 table ({l1_size} entries)")
        l2_offset = struct.unpack(">Q", fetch(l1_offset + 8 * l1_index, 8))[0] & OFFSET_MASK
        entry = struct.unpack(">Q", fetch(l2_offset + 8 * l2_index, 8))[0] if l2_offset else 0
        if entry & COMPRESSED:
            out += _inflate(fetch, entry, cluster_bits, index)[within:within + take]
            continue
        data_offset = entry & OFFSET_MASK
        if not data_offset or entry & ZERO:
            out += bytes(take)
        else:
            chunk = fetch(data_offset + within, take)
            if len(chunk) != take:
                raise Qcow2Error(f"the file ends inside cluster {index}")
            out += chunk
    return bytes(out)


def _inflate(fetch: Callable[[int, int], bytes], entry: int, cluster_bits: int, index: int) -> bytes:
    """One compressed cluster, inflated. Its descriptor holds the host offset in the low 62 - (cluster_bits - 8)
    bits and, above them, the number of 512-byte sectors the data runs on past the first."""
    x = 62 - (cluster_bits - 8)
    host_offset = entry & ((1 << x) - 1)
    sectors = ((entry >> x) & ((1 << (cluster_bits - 8)) - 1)) + 1
    data = fetch(host_offset, sectors * 512 - host_offset % 512)
    try:
        cluster = zlib.decompressobj(DEFLATE_WINDOW).decompress(data, 1 << cluster_bits)
    except zlib.error as exc:
        raise Qcow2Error(f"compressed cluster {index} does not inflate: {exc}") from None
    return cluster.ljust(1 << cluster_bits, b"\0")
