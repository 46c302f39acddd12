"""Test images from the recipe file: the recipes load, the raw disk holds the declared data, qemu-img builds each
upload kind, and a missing qemu-img or a broken recipe file is one clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackproof import vmdk_images
from stackproof.vmdk import read_head

RECIPES = Path(__file__).resolve().parents[1] / "fixtures" / "vmdk_images.yaml"
MIB = 2**20


def test_the_recipe_file_loads() -> None:
    recipes = vmdk_images.load(RECIPES)
    assert {"sparse", "streamOptimized", "preallocated", "thin", "descriptor"} <= set(recipes.recipes)
    assert recipes["thin"].disk_type == "thin" and recipes["thin"].upload == "extent"


def test_a_broken_recipe_file_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("data_fraction: 0.5\nseed: 1\nrecipes: {x: {subformat: a, vmware_disktype: b, upload: nope, "
                   "what: c}}\n")
    with pytest.raises(vmdk_images.RecipeError, match="upload must be one of"):
        vmdk_images.load(bad)
    with pytest.raises(vmdk_images.RecipeError, match="not a VMDK recipe file"):
        vmdk_images.load(tmp_path / "missing.yaml")


def test_the_raw_disk_holds_the_declared_data(tmp_path: Path) -> None:
    recipes = vmdk_images.load(RECIPES)
    raw = tmp_path / "d.raw"
    data = vmdk_images.raw_disk(raw, 8 * MIB, recipes)
    content = raw.read_bytes()
    assert len(content) == 8 * MIB and data == 1 * MIB
    assert content[data:] == bytes(8 * MIB - data) and content[:data].count(0) < data // 100


def test_missing_qemu_img_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    recipes = vmdk_images.load(RECIPES)
    with pytest.raises(vmdk_images.QemuImgMissing, match="qemu-utils"):
        vmdk_images.build(recipes["sparse"], 8 * MIB, tmp_path, recipes)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
@pytest.mark.parametrize(("name", "kind", "subformat"), [
    ("sparse", "sparse", "monolithicSparse"), ("streamOptimized", "sparse", "streamOptimized"),
    ("preallocated", "flat", "flat"), ("thin", "flat", "flat"), ("descriptor", "descriptor", "monolithicFlat"),
])
def test_builds_each_upload_kind(tmp_path: Path, name: str, kind: str, subformat: str) -> None:
    recipes = vmdk_images.load(RECIPES)
    built = vmdk_images.build(recipes[name], 8 * MIB, tmp_path, recipes)
    head = read_head(built.path.read_bytes()[:65536])
    assert (head.kind, head.subformat) == (kind, subformat)
    assert built.data_bytes == built.sparse_bytes == 1 * MIB
    if kind == "flat":
        assert built.size == 8 * MIB  # the whole extent, whatever the data
    elif kind == "sparse":
        assert built.data_bytes <= built.size < 8 * MIB


def test_sizes_must_be_whole_grains(tmp_path: Path) -> None:
    recipes = vmdk_images.load(RECIPES)
    with pytest.raises(ValueError, match="multiple of 65536"):
        vmdk_images.build(recipes["sparse"], 1000, tmp_path, recipes)
