"""The qcow2 range reader: what it reads back is what was written into the disk, wherever it sits."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from stackproof.qcow2 import Qcow2Error, read_disk

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
MIB = 1024 * 1024


def _fetcher(data: bytes):
    return lambda start, size: data[start:start + size]


def _image(size: int, clusters: dict[int, bytes], *, version: int = 3, zero: frozenset[int] = frozenset(),
           compressed: bool = False) -> bytes:
    """A qcow2 file laid out by hand: header, one L1 table, one L2 table, the given data clusters."""
    l1_offset, l2_offset, data_offset = CLUSTER, 2 * CLUSTER, 3 * CLUSTER
    header = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", version, 0, 0, CLUSTER_BITS, size, 0, 1, l1_offset,
                         0, 0, 0, 0)
    header += bytes(8 * 3) + struct.pack(">I", 4) + struct.pack(">I", 104) if version == 3 else b""
    l1 = struct.pack(">Q", l2_offset | 1 << 63)
    l2 = bytearray(CLUSTER)
    body = bytearray()
    for n, index in enumerate(sorted(clusters)):
        plain = clusters[index].ljust(CLUSTER, b"\0")
        if compressed:
            packer = zlib.compressobj(9, zlib.DEFLATED, -12)
            packed = packer.compress(plain) + packer.flush()
            start = data_offset + len(body) + 7  # not sector-aligned, as qemu packs them
            sectors = (start % 512 + len(packed) + 511) // 512
            x = 62 - (CLUSTER_BITS - 8)
            struct.pack_into(">Q", l2, 8 * index, 1 << 62 | (sectors - 1) << x | start)
            body += bytes(7) + packed
            body += bytes(-len(body) % 512)
        else:
            struct.pack_into(">Q", l2, 8 * index, (data_offset + n * CLUSTER) | 1 << 63)
            body += plain
    for index in zero:
        struct.pack_into(">Q", l2, 8 * index, 1)
    return header.ljust(CLUSTER, b"\0") + l1.ljust(CLUSTER, b"\0") + bytes(l2) + bytes(body)


def test_reads_data_where_it_was_written_and_zeros_elsewhere() -> None:
    data = _image(8 * MIB, {16: b"A" * 10 + b"marker" + b"B" * 10})
    fetch = _fetcher(data)
    assert read_disk(fetch, 16 * CLUSTER + 10, 6) == b"marker"
    assert read_disk(fetch, 0, 512) == bytes(512)
    assert read_disk(fetch, 16 * CLUSTER - 4, 8) == bytes(4) + b"AAAA"


def test_a_range_across_clusters_joins_them() -> None:
    fetch = _fetcher(_image(8 * MIB, {3: b"x" * CLUSTER, 4: b"y" * 4}))
    assert read_disk(fetch, 4 * CLUSTER - 2, 6) == b"xxyyyy"


def test_compressed_clusters_are_inflated() -> None:
    fetch = _fetcher(_image(8 * MIB, {2: b"head" + os.urandom(100) + b"tail", 7: b"seven"}, compressed=True))
    assert read_disk(fetch, 7 * CLUSTER, 5) == b"seven"
    assert read_disk(fetch, 2 * CLUSTER + 104, 4) == b"tail"
    assert read_disk(fetch, 3 * CLUSTER, 8) == bytes(8)


def test_zero_clusters_read_as_zeros_even_with_an_offset() -> None:
    fetch = _fetcher(_image(8 * MIB, {}, zero=frozenset({5})))
    assert read_disk(fetch, 5 * CLUSTER, 16) == bytes(16)


@pytest.mark.parametrize("broken, message", [
    (b"NOPE" + bytes(200), "not a qcow2 image"),
    (struct.pack(">4sI", b"QFI\xfb", 9) + bytes(200), "version 9"),
])
def test_refuses_what_it_cannot_read(broken: bytes, message: str) -> None:
    with pytest.raises(Qcow2Error, match=message):
        read_disk(_fetcher(broken), 0, 1)


def test_refuses_a_range_outside_the_disk() -> None:
    with pytest.raises(Qcow2Error, match="outside"):
        read_disk(_fetcher(_image(MIB, {})), MIB - 2, 4)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img to write the image (the lab installs it)")
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
def test_reads_what_qemu_img_convert_wrote(tmp_path: Path, compress: bool) -> None:
    raw = tmp_path / "volume.raw"
    with raw.open("wb") as f:
        f.truncate(64 * MIB)
        f.seek(MIB)
        f.write(b"sp-run-token-0123")
        f.seek(40 * MIB + CLUSTER - 3)
        f.write(os.urandom(3) + b"crossing")
    image = tmp_path / "volume.qcow2"
    subprocess.run(["qemu-img", "convert", *(["-c"] if compress else []), "-f", "raw", "-O", "qcow2", str(raw),
                    str(image)], check=True)
    data = image.read_bytes()
    assert len(data) < 2 * MIB  # only the written clusters travel
    fetch = _fetcher(data)
    assert read_disk(fetch, MIB, 17) == b"sp-run-token-0123"
    expected = raw.read_bytes()[40 * MIB + CLUSTER - 3:40 * MIB + CLUSTER + 8]
    assert read_disk(fetch, 40 * MIB + CLUSTER - 3, 11) == expected
