"""The in-memory sparse VMDK: laid out as qemu-img lays it out, and read back as a valid vmdk."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from stackproof.vmdk import HEAD_BYTES, SECTOR, Head, glance_verdict, monolithic_sparse, read_head

MIB = 1024 * 1024


def test_header_and_descriptor_describe_the_disk() -> None:
    data = monolithic_sparse(64 * MIB, file_name="x.vmdk")
    magic, version, _flags, capacity, grain, desc_offset, desc_sectors = struct.unpack("<4sIIQQQQ", data[:44])
    assert (magic, version, capacity, grain, desc_offset, desc_sectors) == (b"KDMV", 1, 64 * MIB // SECTOR, 128, 1, 20)
    descriptor = data[SECTOR : 21 * SECTOR].rstrip(b"\0").decode("ascii")
    assert 'createType="monolithicSparse"' in descriptor
    assert f'RW {64 * MIB // SECTOR} SPARSE "x.vmdk"' in descriptor
    assert len(data) % (128 * SECTOR) == 0


def test_refuses_a_size_that_is_not_whole_sectors() -> None:
    with pytest.raises(ValueError, match="multiple of 512"):
        monolithic_sparse(1000)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img to compare with")
@pytest.mark.parametrize("size_mib", [1, 64, 513])
def test_matches_qemu_img_layout_and_passes_its_check(tmp_path: Path, size_mib: int) -> None:
    ours = tmp_path / "ours.vmdk"
    ours.write_bytes(monolithic_sparse(size_mib * MIB, file_name="ours.vmdk"))
    theirs = tmp_path / "theirs.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicSparse,adapter_type=lsilogic",
                    str(theirs), f"{size_mib}M"], check=True)
    mine, reference = ours.read_bytes(), theirs.read_bytes()
    # Same header fields (the descriptor text differs: CID, file name, tools version) and same tables.
    assert len(mine) == len(reference)
    assert mine[:79] == reference[:79]
    assert mine[21 * SECTOR :] == reference[21 * SECTOR :]
    subprocess.run(["qemu-img", "check", "-f", "vmdk", str(ours)], check=True, capture_output=True)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(ours)], check=True,
                                     capture_output=True, text=True).stdout)
    assert (info["format"], info["virtual-size"]) == ("vmdk", size_mib * MIB)


# --- reading what an image is -----------------------------------------------------------------------------


def test_reads_an_in_memory_sparse_disk() -> None:
    head = read_head(monolithic_sparse(64 * MIB))
    assert (head.kind, head.subformat, head.capacity, head.compressed, head.embedded) == (
        "sparse", "monolithicSparse", 64 * MIB, False, True)
    assert head.disk_types == {"sparse"}


def test_bytes_without_a_vmdk_header_are_a_flat_extent() -> None:
    head = read_head(b"\0" * 4096)
    assert (head.kind, head.capacity) == ("flat", None)
    assert head.disk_types == {"preallocated", "thin", "thick", "eagerZeroedThick"}
    assert "raw bytes" in head.describe()


def test_a_lone_descriptor_is_read_as_text() -> None:
    text = (b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n\nRW 131072 FLAT "d-flat.vmdk" 0\n'
            b'ddb.adapterType = "lsilogic"\n')
    head = read_head(text)
    assert (head.kind, head.subformat, head.capacity, head.adapter_type) == (
        "descriptor", "monolithicFlat", 64 * MIB, "lsilogic")
    assert head.disk_types == frozenset()


@pytest.mark.parametrize(("head", "match", "stored"), [
    (Head("sparse", "monolithicSparse", 1, embedded=True), True, True),
    (Head("sparse", "streamOptimized", 1, compressed=True, embedded=True), True, True),
    (Head("sparse", "twoGbMaxExtentSparse", 1, embedded=True), False, False),  # fails the safety check always
    (Head("sparse", "monolithicSparse", 1, embedded=False), True, False),  # no embedded descriptor: not vmdk
    (Head("flat", "flat", None), True, False),
    (Head("flat", "flat", None), False, True),
    (Head("descriptor", "monolithicFlat", 1), True, False),
    (Head("descriptor", "monolithicFlat", 1), False, True),
])
def test_glance_verdict_follows_glance_33(head: Head, match: bool, stored: bool) -> None:
    verdict, why = glance_verdict(head, match)
    assert verdict is stored and why


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img to build the formats")
@pytest.mark.parametrize(("subformat", "kind", "compressed"), [
    ("monolithicSparse", "sparse", False), ("streamOptimized", "sparse", True), ("monolithicFlat", "descriptor", False),
])
def test_reads_what_qemu_img_writes(tmp_path: Path, subformat: str, kind: str, compressed: bool) -> None:
    out = tmp_path / "d.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", f"subformat={subformat}", str(out), "16M"],
                   check=True)
    head = read_head(out.read_bytes()[:HEAD_BYTES])
    assert (head.kind, head.subformat, head.capacity, head.compressed) == (kind, subformat, 16 * MIB, compressed)
