"""Which image a boot check takes: a tagged one by default; the untagged one first for a check that asks
whether the scheduler's other layers keep an image in place (SP-AGG-008)."""

from __future__ import annotations

from types import SimpleNamespace

from stackproof.servers import image_for


def _cloud(*images: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(image=SimpleNamespace(images=lambda status: list(images)))


def _image(name: str, tag: str | None, size: int, disk_format: str = "vmdk") -> SimpleNamespace:
    return SimpleNamespace(name=name, id=name, disk_format=disk_format, hypervisor_type=tag, properties={},
                           size=size)


CLOUD = _cloud(_image("sparse", None, 30), _image("stream", "vmware", 10), _image("flat", "vmware", 64),
               _image("mine", None, 1), _image("qcow2", "qemu", 5, "qcow2"))


def test_a_tagged_image_comes_first_by_default() -> None:
    assert image_for(CLOUD, "vmdk", "VMware vCenter Server", "mine").name == "stream"


def test_an_untagged_image_comes_first_when_asked() -> None:
    assert image_for(CLOUD, "vmdk", "VMware vCenter Server", "mine", untagged_first=True).name == "sparse"


def test_without_an_untagged_image_the_tagged_one_is_taken() -> None:
    assert image_for(CLOUD, "qcow2", "QEMU", "mine", untagged_first=True).name == "qcow2"
