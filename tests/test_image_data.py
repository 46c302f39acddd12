"""An image's first bytes: a ranged GET, read no further than asked, closed, and a refusal is one error."""

from __future__ import annotations

import pytest

from stackproof.image_data import ImageDataError, first_bytes, image_properties


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.body, self.closed, self.read = status, body, False, 0
        self.headers = {"x-openstack-request-id": "req-1"}

    def iter_content(self, chunk_size: int):
        for start in range(0, len(self.body), chunk_size):
            self.read += 1
            yield self.body[start : start + chunk_size]

    def close(self) -> None:
        self.closed = True


class Image:
    def __init__(self, response: Response) -> None:
        self.response, self.requests = response, []

    def get(self, url, **kwargs):
        self.requests.append((url, kwargs))
        return self.response


class Cloud:
    def __init__(self, response: Response) -> None:
        self.image = Image(response)


def test_asks_for_a_range_and_stops_at_it_when_the_server_sends_everything() -> None:
    response = Response(200, bytes(range(256)) * 4096)  # 1 MiB: a server that ignored Range
    cloud = Cloud(response)
    assert first_bytes(cloud, "img", 1000) == (bytes(range(256)) * 4)[:1000]
    url, kwargs = cloud.image.requests[0]
    assert url == "/images/img/file" and kwargs["headers"] == {"Range": "bytes=0-999"} and kwargs["stream"]
    assert response.read == 1 and response.closed


def test_a_refusal_names_the_status_and_request() -> None:
    response = Response(403, b"")
    with pytest.raises(ImageDataError, match=r"HTTP 403 \(request req-1"):
        first_bytes(Cloud(response), "img", 10)
    assert response.closed


def test_image_properties_merge_mapped_attributes() -> None:
    image = type("Image", (), {"properties": {"os_type": "linux"}, "hypervisor_type": "vmware",
                               "vmware_disktype": None, "vmware_adaptertype": "lsiLogic"})()
    assert image_properties(image) == {"os_type": "linux", "hypervisor_type": "vmware",
                                       "vmware_adaptertype": "lsiLogic"}
