"""An image's first bytes, read from Glance with a ranged download (a GET: allowed in readonly checks), and its
properties however openstacksdk presents them.

Glance's download honours `Range` (glance/api/v2/image_data.py); should a server ignore it, the response is
read only as far as needed and closed, so a multi-gigabyte image never crosses the wire whole.
"""

from __future__ import annotations

from typing import Any


class ImageDataError(Exception):
    """Glance did not hand out the image's data."""


def first_bytes(cloud: Any, image_id: str, length: int) -> bytes:
    """Up to `length` bytes from the start of image `image_id`'s data."""
    response = cloud.image.get(f"/images/{image_id}/file", headers={"Range": f"bytes=0-{length - 1}"},
                               stream=True, raise_exc=False)
    try:
        if response.status_code not in (200, 206):
            request = response.headers.get("x-openstack-request-id", "unknown")
            raise ImageDataError(f"GET /v2/images/{image_id}/file answered HTTP {response.status_code} "
                                 f"(request {request})")
        data = bytearray()
        for chunk in response.iter_content(chunk_size=min(length, 65536)):
            data += chunk
            if len(data) >= length:
                break
        return bytes(data[:length])
    finally:
        response.close()


IMAGE_FIELDS = ("hypervisor_type", "vmware_disktype", "vmware_adaptertype")  # properties openstacksdk maps


def image_properties(image: Any) -> dict[str, Any]:
    """Image properties whether openstacksdk mapped them to attributes or left them in `properties`."""
    props = dict(image.properties or {})
    for key in IMAGE_FIELDS:
        value = getattr(image, key, None)
        if value is not None:
            props.setdefault(key, value)
    return props
