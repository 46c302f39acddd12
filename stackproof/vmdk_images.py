"""Test VMDK images built with qemu-img from recipes (fixtures/vmdk_images.yaml), one per way a VMDK reaches
Glance: monolithicSparse, streamOptimized, a flat extent labelled preallocated or thin, a descriptor alone.

All images of one virtual size come from the same raw disk: random bytes in its first `data_fraction`, zeros
after. `Built` says what each holds: its upload size, the virtual size, the data, and the bytes a sparse copy of
that disk would move (the grains that hold data), which is what the transfer figures are compared with.
qemu-img is a declared requirement of whoever builds (the runner for the vmdk area, the bench): its absence is
reported, never worked around.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

GRAIN = 64 * 1024  # VMware's grain (128 sectors): the unit a sparse copy moves
UPLOADS = ("file", "extent", "descriptor")
QEMU_IMG_TIMEOUT = 300


class QemuImgMissing(Exception):
    """qemu-img is not on the runner's PATH."""


class RecipeError(Exception):
    """The recipe file is missing or malformed."""


@dataclass(frozen=True)
class Recipe:
    name: str
    subformat: str  # qemu-img's vmdk subformat
    disk_type: str  # the vmware_disktype the image carries
    upload: str  # file | extent | descriptor
    what: str


@dataclass(frozen=True)
class Recipes:
    data_fraction: float
    seed: int
    recipes: dict[str, Recipe]

    def __getitem__(self, name: str) -> Recipe:
        return self.recipes[name]


@dataclass(frozen=True)
class Built:
    recipe: Recipe
    path: Path  # the file to upload
    virtual_size: int
    data_bytes: int  # non-zero bytes of the disk
    sparse_bytes: int  # the grains holding data: what a sparse copy moves

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def load(path: Path) -> Recipes:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        recipes = {
            name: Recipe(name, spec["subformat"], spec["vmware_disktype"], spec["upload"], spec["what"])
            for name, spec in data["recipes"].items()
        }
        loaded = Recipes(float(data["data_fraction"]), int(data["seed"]), recipes)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: not a VMDK recipe file: {exc}") from None
    bad = [r.name for r in recipes.values() if r.upload not in UPLOADS]
    if bad or not 0 < loaded.data_fraction <= 1:
        raise RecipeError(f"{path}: upload must be one of {UPLOADS} (not in {bad}); data_fraction in (0, 1]")
    return loaded


def qemu_img() -> str:
    found = shutil.which("qemu-img")
    if found is None:
        raise QemuImgMissing("qemu-img is not on the runner's PATH (Debian/Ubuntu: qemu-utils)")
    return found


def raw_disk(path: Path, virtual_size: int, recipes: Recipes) -> int:
    """Write the raw disk every recipe converts (reused when it exists); returns its data bytes."""
    data = int(virtual_size * recipes.data_fraction) // GRAIN * GRAIN
    if not (path.exists() and path.stat().st_size == virtual_size):
        with open(path, "wb") as f:
            rng = random.Random(recipes.seed)
            for offset in range(0, data, 16 * 2**20):
                f.write(rng.randbytes(min(16 * 2**20, data - offset)))
            f.truncate(virtual_size)
    return data


def build(recipe: Recipe, virtual_size: int, workdir: Path, recipes: Recipes) -> Built:
    """Build `recipe` at `virtual_size` (a multiple of the grain) under `workdir`."""
    if virtual_size <= 0 or virtual_size % GRAIN:
        raise ValueError(f"virtual size {virtual_size} is not a positive multiple of {GRAIN}")
    tool = qemu_img()
    workdir.mkdir(parents=True, exist_ok=True)
    raw = workdir / f"disk-{virtual_size}.raw"
    data = raw_disk(raw, virtual_size, recipes)
    out = workdir / f"{recipe.name}-{virtual_size}.vmdk"
    for stale in (out, out.with_name(out.stem + "-flat.vmdk")):
        stale.unlink(missing_ok=True)
    try:
        subprocess.run([tool, "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                        f"subformat={recipe.subformat},adapter_type=lsilogic", str(raw), str(out)],
                       check=True, capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        raise RecipeError(f"qemu-img could not build {recipe.name} ({recipe.subformat}): "
                          f"{exc.stderr.strip()}") from None
    upload = out.with_name(out.stem + "-flat.vmdk") if recipe.upload == "extent" else out
    return Built(recipe, upload, virtual_size, data, -(-data // GRAIN) * GRAIN)
