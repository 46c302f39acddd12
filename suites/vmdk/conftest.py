"""Capabilities the vmdk checks share: the cloud's VMware computes with their nova.conf, Glance's image format
settings, the cloud's VMDK images, and test images built from the recipes in fixtures/vmdk_images.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from stackproof import vmdk_images
from stackproof.hostconfig import is_true
from suites.vmdk.computes import VmwareCompute, find_vmware_computes
from suites.vmdk.nova_vmware import GLANCE_CONTAINER_FORMATS, GLANCE_DISK_FORMATS, GLANCE_REQUIRE_FORMAT_MATCH

RECIPES = Path(__file__).resolve().parents[2] / "fixtures" / "vmdk_images.yaml"


@pytest.fixture(scope="module")
def vmware_computes(cloud, hosts) -> list[VmwareCompute]:
    return find_vmware_computes(cloud, hosts)


@dataclass(frozen=True)
class GlanceFormats:
    disk_formats: tuple[str, ...]
    container_formats: tuple[str, ...]
    require_format_match: bool
    where: str


@pytest.fixture(scope="module")
def glance_formats(hosts, target) -> GlanceFormats:
    """[image_format] of glance-api.conf on the controller role, as glance 33 reads it (its defaults if unset)."""
    role = "controller"
    if role not in target.hosts or "glance" not in target.hosts[role].config:
        pytest.skip("not evaluated: the target gives no glance config path (hosts.controller.config.glance)")
    (host, conf), *_ = hosts.config(role, "glance")

    def listed(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = conf.get("image_format", name, fallback=None)
        return default if value is None else tuple(v.strip() for v in value.split(",") if v.strip())

    match = conf.get("image_format", "require_image_format_match", fallback=str(GLANCE_REQUIRE_FORMAT_MATCH))
    return GlanceFormats(listed("disk_formats", GLANCE_DISK_FORMATS),
                         listed("container_formats", GLANCE_CONTAINER_FORMATS), is_true(match),
                         f"host {host.backend.get_hostname()}, {target.hosts[role].config['glance']} [image_format]")


@pytest.fixture(scope="session")
def vmdk_recipes() -> vmdk_images.Recipes:
    return vmdk_images.load(RECIPES)


@pytest.fixture(scope="session")
def image_workdir(tmp_path_factory) -> Path:
    try:
        vmdk_images.qemu_img()
    except vmdk_images.QemuImgMissing as exc:
        pytest.skip(f"not evaluated: {exc}; the vmdk area builds its test images with it")
    return tmp_path_factory.mktemp("vmdk-images")


@pytest.fixture(scope="session")
def build_image(image_workdir, vmdk_recipes):
    """build_image(recipe name, virtual size) -> vmdk_images.Built, built once per worker."""
    built: dict[tuple[str, int], vmdk_images.Built] = {}

    def build(name: str, virtual_size: int) -> vmdk_images.Built:
        if (name, virtual_size) not in built:
            built[(name, virtual_size)] = vmdk_images.build(vmdk_recipes[name], virtual_size, image_workdir,
                                                            vmdk_recipes)
        return built[(name, virtual_size)]

    return build
