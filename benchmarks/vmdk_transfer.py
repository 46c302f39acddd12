"""What it costs to bring a VMDK image from Glance to a VMware datastore, per format and size: a benchmark.

For each virtual size and each recipe of fixtures/vmdk_images.yaml (the vmdk area's test images: one raw disk, an
eighth of it random data, written as monolithicSparse, streamOptimized, or a flat extent labelled preallocated or
thin), one after the other so that the figures do not disturb each other:

  upload the image to Glance (timed), boot it on a VMware compute (the first boot: nova copies the image into the
  datastore's image cache), delete the server, boot it again on the same compute (from the cache), delete all.

Figures: the bytes that moved (the image's size in Glance: nova streams the whole body to the datastore), the
bytes a sparse copy of the same disk would move (the grains holding data), what the cache holds on the datastore
(read through vCenter's datastore browser), and the seconds: the copy's cost is the first boot minus the cached
one. The machine's own disk copies the same bytes for comparison (a file copy with fsync, best of three).

Output: a table on stdout and, under --out, results.json, table.md and transfer.svg (two charts an operator can
read at a glance). A benchmark, not a test: it asserts nothing and never runs in CI. Everything it creates goes
through the engine's ledger under its own run prefix and is deleted at the end, also on Ctrl-C.

    python benchmarks/vmdk_transfer.py [--target stackproof.yaml] [--sizes 64,256,1024] [--recipes ...] [--repeat N]
                                  [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stackproof import datastore, reports, vmdk_images
from stackproof import target as target_mod
from stackproof.connections import ConnectionPool
from stackproof.errors import StackproofError
from stackproof.image_transfer import cache_folders, cached_image, timed_boot, upload, vm_datastore
from stackproof.ledger import Ledger
from stackproof.servers import VMWARE_HV_TYPE, flavor_for, usable_hosts
from stackproof.vsphere import connect as vsphere_connect
from stackproof.waiting import Waiter

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "fixtures" / "vmdk_images.yaml"
DEFAULT_SIZES = (64, 256, 1024)  # MiB of virtual size
DEFAULT_RECIPES = ("sparse", "streamOptimized", "preallocated", "thin")
MIB = 2**20
COLOURS = {"sparse": "#4c78a8", "streamOptimized": "#59a14f", "preallocated": "#e15759", "thin": "#f28e2b"}


@dataclass
class Row:
    recipe: str
    disk_type: str
    virtual_mib: float
    data_mib: float
    sparse_copy_mib: float
    moved_mib: float
    cache_mib: float | None
    upload_s: float
    first_boot_s: float
    cached_boot_s: float
    copy_s: float
    copy_mib_s: float | None
    disk_copy_s: float  # the machine's disk copying the same bytes

    @property
    def amplification(self) -> float:
        return self.moved_mib / self.sparse_copy_mib if self.sparse_copy_mib else 0.0


class Resources:
    """The engine's ledger behind the `resources` interface the measuring functions use."""

    def __init__(self, ledger: Ledger, pool: ConnectionPool, cloud: str) -> None:
        self.ledger, self.pool, self.cloud = ledger, pool, cloud

    def create(self, kind: str, *, hint: str | None = None, **attrs: Any) -> Any:
        return self.ledger.create(kind, self.cloud, "bench", self.pool.get(self.cloud), hint=hint, **attrs)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def disk_copy_seconds(path: Path, workdir: Path) -> float:
    """The machine's disk copying `path` (written out and synced), best of three."""
    times = []
    for _ in range(3):
        target = workdir / "disk-copy.tmp"
        began = time.monotonic()
        with open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 4 * MIB)
            dst.flush()
            os.fsync(dst.fileno())
        times.append(time.monotonic() - began)
        target.unlink()
    return min(times)


def delete_server(cloud: Any, waiter: Waiter, server: Any) -> None:
    cloud.compute.delete_server(server.id, ignore_missing=True)
    waiter.until(lambda: cloud.compute.find_server(server.id, ignore_missing=True), limit="server_deleted",
                 until=lambda s: s is None, state=lambda s: "gone" if s is None else str(s.status),
                 description=f"server {server.id} to be deleted")


def find_cache(si: Any, server_id: str, image_id: str) -> datastore.DatastoreFile | None:
    ds_name = vm_datastore(si, server_id)
    browser = datastore.browsers(si).get(ds_name)
    if browser is None:
        return None
    for folder in cache_folders(si, browser, ds_name, "_base"):
        disk = cached_image(si, browser, ds_name, folder, image_id).disk
        if disk is not None:
            return disk
    return None


def measure(recipe: str, size: int, *, cloud: Any, si: Any, resources: Resources, waiter: Waiter, host: str,
            recipes: vmdk_images.Recipes, workdir: Path) -> Row:
    built = vmdk_images.build(recipes[recipe], size * MIB, workdir, recipes)
    say(f"{recipe} {size} MiB: {built.size / MIB:.1f} MiB to upload")
    up = upload(resources, built, hint=f"bench-{recipe}-{size}", timeout=waiter.timeouts.get("image_active"),
                properties={"hypervisor_type": "vmware", "vmware_disktype": built.recipe.disk_type,
                            "vmware_adaptertype": "lsiLogic"})
    image = cloud.image.get_image(up.value.id)
    flavor = flavor_for(cloud, image)
    first = timed_boot(cloud, resources, waiter, image=image, flavor=flavor, hint="bench-1", host=host)
    if first.value.status != "ACTIVE":
        raise RuntimeError(f"{recipe} {size} MiB: the first boot ended {first.value.status}: {first.value.fault}")
    cache = find_cache(si, first.value.id, image.id)
    delete_server(cloud, waiter, first.value)
    second = timed_boot(cloud, resources, waiter, image=image, flavor=flavor, hint="bench-2", host=host)
    delete_server(cloud, waiter, second.value)
    cloud.image.delete_image(image.id, ignore_missing=True)
    copy = max(first.seconds - second.seconds, 0.0)
    moved = image.size / MIB
    row = Row(recipe, built.recipe.disk_type, size, built.data_bytes / MIB, built.sparse_bytes / MIB, moved,
              cache.size / MIB if cache and cache.size is not None else None, round(up.seconds, 2),
              round(first.seconds, 2), round(second.seconds, 2), round(copy, 2),
              round(moved / copy, 1) if copy > 0.05 else None, round(disk_copy_seconds(built.path, workdir), 3))
    say(f"{recipe} {size} MiB: moved {moved:.1f} MiB, first boot {first.seconds:.1f} s, cached {second.seconds:.1f} s")
    return row


def median_row(runs: list[Row]) -> Row:
    """One row from repeated measurements: the bytes are the same each time, the seconds their median (a
    shared machine's noise moves single runs by seconds)."""
    row = runs[0]
    for name in ("upload_s", "first_boot_s", "cached_boot_s", "copy_s", "disk_copy_s"):
        setattr(row, name, round(statistics.median(getattr(r, name) for r in runs), 3))
    row.copy_mib_s = round(row.moved_mib / row.copy_s, 1) if row.copy_s > 0.05 else None
    return row


def table(rows: list[Row], disk_mib_s: float) -> str:
    head = ("| virtual MiB | format | moved MiB | sparse copy MiB | x | cache MiB | upload s | first boot s | "
            "cached boot s | copy s | MiB/s | disk cp s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r.virtual_mib:.0f} | {r.recipe} | {r.moved_mib:.1f} | {r.sparse_copy_mib:.1f} | "
                     f"{r.amplification:.1f} | {'-' if r.cache_mib is None else f'{r.cache_mib:.1f}'} | "
                     f"{r.upload_s:.2f} | {r.first_boot_s:.2f} | {r.cached_boot_s:.2f} | {r.copy_s:.2f} | "
                     f"{'-' if r.copy_mib_s is None else f'{r.copy_mib_s:.0f}'} | {r.disk_copy_s:.2f} |")
    lines.append("")
    lines.append(f"moved: the image's size in Glance, all of which nova streams to the datastore at the first boot; "
                 f"sparse copy: the grains of the disk that hold data; x: moved / sparse copy; copy s: first boot - "
                 f"boot from the cache; disk cp s: this machine's disk copying the moved bytes (about "
                 f"{disk_mib_s:.0f} MiB/s).")
    return "\n".join(lines)


def comparison(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        if r.copy_mib_s is None or r.disk_copy_s <= 0:
            continue
        ratio = r.copy_s / r.disk_copy_s
        lines.append(f"{r.recipe} {r.virtual_mib:.0f} MiB: the first boot's copy took {r.copy_s:.1f} s for "
                     f"{r.moved_mib:.0f} MiB, {ratio:.1f}x the {r.disk_copy_s:.2f} s the disk needs to copy the same "
                     "bytes")
    return "\n".join(lines)


# --- the plot -------------------------------------------------------------------------------------------


def _bars(rows: list[Row], value, reference, title: str, unit: str, floor: float, x0: float) -> list[str]:
    """One grouped bar chart (groups: virtual sizes; bars: formats), on a log scale (the values span three orders
    of magnitude), each bar labelled with its value, with a dashed reference per bar."""
    width, height, left, bottom, top = 520.0, 300.0, 60.0, 50.0, 40.0
    sizes = sorted({r.virtual_mib for r in rows})
    recipes = [name for name in COLOURS if any(r.recipe == name for r in rows)]
    low = math.floor(math.log10(floor))
    high = math.ceil(math.log10(max([value(r) for r in rows] + [reference(r) or 0 for r in rows] + [floor * 10])))
    plot_w, plot_h = width - left - 20, height - top - bottom

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * (math.log10(max(v, floor)) - low) / (high - low)

    group_w = plot_w / max(len(sizes), 1)
    bar_w = group_w * 0.8 / max(len(recipes), 1)
    out = [f'<g transform="translate({x0},0)">',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{title}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
           f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
           f'text-anchor="middle" font-size="12">{unit} (log scale)</text>']
    for exponent in range(low, high + 1):
        y = y_of(10.0**exponent)
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{10.0**exponent:g}</text>')
    for gi, size in enumerate(sizes):
        gx = left + gi * group_w + group_w * 0.1
        out.append(f'<text x="{gx + group_w * 0.4:.1f}" y="{top + plot_h + 18:.1f}" text-anchor="middle" '
                   f'font-size="12">{size:.0f} MiB disk</text>')
        for bi, name in enumerate(recipes):
            row = next((r for r in rows if r.recipe == name and r.virtual_mib == size), None)
            if row is None:
                continue
            v, ref, x = value(row), reference(row), gx + bi * bar_w
            y = y_of(v)
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.92:.1f}" height="{top + plot_h - y:.1f}" '
                       f'fill="{COLOURS[name]}"><title>{name}, {size:.0f} MiB disk: {v:.2f} {unit}</title></rect>')
            out.append(f'<text x="{x + bar_w * 0.46:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                       f'font-size="9">{v:.3g}</text>')
            if ref:
                ry = y_of(ref)
                out.append(f'<line x1="{x:.1f}" y1="{ry:.1f}" x2="{x + bar_w * 0.92:.1f}" y2="{ry:.1f}" '
                           'stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>')
    out.append("</g>")
    return out


def svg(rows: list[Row], disk_mib_s: float) -> str:
    recipes = [name for name in COLOURS if any(r.recipe == name for r in rows)]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="1080" height="380" font-family="sans-serif">',
             '<rect width="1080" height="380" fill="white"/>']
    parts += _bars(rows, lambda r: r.moved_mib, lambda r: r.sparse_copy_mib,
                   "MiB moved to the datastore at the first boot", "MiB", 1.0, 0)
    parts += _bars(rows, lambda r: r.copy_s, lambda r: r.disk_copy_s,
                   "Seconds the first boot spends copying", "seconds", 0.01, 540)
    for i, name in enumerate(recipes):
        x = 80 + i * 170
        parts.append(f'<rect x="{x}" y="348" width="14" height="14" fill="{COLOURS[name]}"/>')
        parts.append(f'<text x="{x + 20}" y="360" font-size="12">{name}</text>')
    parts.append('<line x1="760" y1="355" x2="790" y2="355" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>')
    parts.append('<text x="796" y="352" font-size="11">left: what a sparse copy moves</text>')
    parts.append(f'<text x="796" y="366" font-size="11">right: the disk copying it ({disk_mib_s:.0f} MiB/s)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- the run --------------------------------------------------------------------------------------------


def vmware_host(cloud: Any) -> str:
    hypervisors = list(cloud.compute.hypervisors(details=True))
    names = sorted({(hv.service_details or {}).get("host") for hv in hypervisors
                    if hv.hypervisor_type == VMWARE_HV_TYPE} - {None})
    usable, seen = usable_hosts(cloud, names, VMWARE_HV_TYPE, hypervisors)
    if not usable:
        raise RuntimeError(f"no VMware compute can take a server: {'; '.join(seen) or 'none listed'}")
    return usable[0]


def run(args: argparse.Namespace) -> int:
    path, _lab = target_mod.locate(args.target, REPO)
    target = target_mod.load(path)
    if not target.vcenters:
        raise StackproofError(f"{path}: the target describes no vCenter")
    recipes = vmdk_images.load(RECIPES)
    vmdk_images.qemu_img()
    unknown = [name for name in args.recipes if name not in recipes.recipes]
    if unknown:
        raise StackproofError(f"unknown recipes {unknown}; {RECIPES} has {sorted(recipes.recipes)}")
    run_id = "bench" + reports.new_run_id()
    out = Path(args.out or REPO / "reports" / f"bench-vmdk-{run_id}")
    out.mkdir(parents=True, exist_ok=True)
    pool = ConnectionPool(target)
    cloud = pool.get(target.clouds.cloud)
    waiter = Waiter(target.timeouts)
    ledger = Ledger(out / "ledger.jsonl", run_id, pool.get, target.timeouts, log=say)
    resources = Resources(ledger, pool, target.clouds.cloud)
    si = vsphere_connect(target, sorted(target.vcenters)[0])
    host = vmware_host(cloud)
    say(f"target {target.name}, VMware compute {host}, sizes {args.sizes} MiB, formats {', '.join(args.recipes)}")
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="vmdk-bench-") as tmp:
            for size in args.sizes:
                for name in args.recipes:
                    runs = [measure(name, size, cloud=cloud, si=si, resources=resources, waiter=waiter, host=host,
                                    recipes=recipes, workdir=Path(tmp)) for _ in range(args.repeat)]
                    rows.append(median_row(runs))
    finally:
        errors = ledger.cleanup()
        for error in errors:
            say(f"cleanup: {error}")
    disk_mib_s = statistics.median(r.moved_mib / r.disk_copy_s for r in rows if r.disk_copy_s > 0)
    text = table(rows, disk_mib_s)
    print(text)
    print()
    print(comparison(rows))
    (out / "table.md").write_text(text + "\n\n" + comparison(rows) + "\n")
    (out / "results.json").write_text(json.dumps({"target": target.name, "host": host, "disk_mib_s": disk_mib_s,
                                                  "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    (out / "transfer.svg").write_text(svg(rows, disk_mib_s))
    print(f"\nwritten: {out / 'table.md'}, {out / 'results.json'}, {out / 'transfer.svg'}")
    return 1 if errors else 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/vmdk_transfer.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", help="target description (default: $STACKPROOF_TARGET, then the lab's)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        type=lambda s: [_positive(x) for x in s.split(",") if x],
                        help="virtual sizes in MiB, comma-separated (default %(default)s)")
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES), type=lambda s: [x for x in s.split(",") if x],
                        help="recipes of fixtures/vmdk_images.yaml (default %(default)s)")
    parser.add_argument("--repeat", type=_positive, default=1, help="measurements per format and size; seconds are "
                        "their median (default %(default)s)")
    parser.add_argument("--out", help="directory for table.md, results.json, transfer.svg")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (StackproofError, vmdk_images.QemuImgMissing, vmdk_images.RecipeError) as exc:
        print(f"vmdk bench: {exc}", file=sys.stderr)
        return 4
    except (AssertionError, RuntimeError) as exc:  # a wait that ran out, a boot that failed: the cloud's answer
        print(f"vmdk bench: stopped: {str(exc).splitlines()[0]} (what it created was deleted)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vmdk bench: interrupted (what it created was deleted)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
