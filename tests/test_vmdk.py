"""The in-memory sparse VMDK: laid out as qemu-img lays it out, and read back as a valid vmdk."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from stackproof.vmdk import SECTOR, monolithic_sparse

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
