"""The cloud's VMDK images as the vmdk checks read them: metadata from Glance, and what the first bytes say."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stackproof.image_data import first_bytes, image_properties
from stackproof.vmdk import HEAD_BYTES, Head, read_head

READERS = 8  # ranged reads in flight: a cloud may hold hundreds of images, each read is one small GET
DEFAULT_DISK_TYPE = "preallocated"  # nova's when vmware_disktype is unset (constants.DEFAULT_DISK_TYPE)


@dataclass(frozen=True)
class VmdkImage:
    image: Any
    head: Head
    properties: dict[str, Any]

    @property
    def name(self) -> str:
        return f"image {self.image.name} ({self.image.id})"

    @property
    def disk_type(self) -> str:
        return str(self.properties.get("vmware_disktype") or DEFAULT_DISK_TYPE)

    @property
    def virtual_size(self) -> int:
        """The disk's size as the guest sees it: the header's capacity, else Glance's, else (a flat extent) the
        image's own size."""
        return self.head.capacity or self.image.virtual_size or self.image.size or 0


def cloud_vmdk_images(cloud: Any, run_prefix: str) -> list[VmdkImage]:
    """Every active vmdk image of the cloud (all projects an admin sees) but this run's own, with its head."""
    images = [i for i in cloud.image.images(status="active")
              if i.disk_format == "vmdk" and not (i.name or "").startswith(run_prefix)]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        heads = list(pool.map(lambda i: read_head(first_bytes(cloud, i.id, HEAD_BYTES)), images))
    return [VmdkImage(image, head, image_properties(image)) for image, head in zip(images, heads, strict=True)]


def mib(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 2**20:.1f} MiB"
