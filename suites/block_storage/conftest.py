"""Capabilities the block storage checks share: the volume service as the API shows it, the designed volume
types, cinder.conf as the hosts hold it, and the designed data network."""

from __future__ import annotations

import configparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from stackproof.hostconfig import read_text
from suites.block_storage.cinder_facts import VMDK_DRIVER, VMWARE_DEFAULT_PORT, multi_values


@dataclass(frozen=True)
class BlockStorage:
    """The volume service as the block storage API shows it."""

    services: list  # cinder-volume services (openstacksdk block_storage Service), one per host@backend
    pools: list  # scheduler pools (openstacksdk Pools: name host@backend#pool, capabilities)
    types: dict  # volume type name -> openstacksdk Type (with extra_specs)

    def pools_of(self, backend: str) -> list:
        """Pools whose volume_backend_name is `backend` (the name a volume type routes by)."""
        return [p for p in self.pools if (p.capabilities or {}).get("volume_backend_name") == backend]

    def service_of(self, pool) -> object | None:
        """The cinder-volume service (host@backend) that reports `pool` (host@backend#pool)."""
        host = pool.name.split("#", 1)[0]
        return next((s for s in self.services if s.host == host), None)


@pytest.fixture(scope="module")
def block_storage(cloud) -> BlockStorage:
    return BlockStorage(
        services=list(cloud.block_storage.services(binary="cinder-volume")),
        pools=list(cloud.block_storage.backend_pools(details=True)),
        types={t.name: t for t in cloud.block_storage.types(is_public=None)},
    )


@pytest.fixture(scope="module")
def volume_design(target) -> list:
    """The designed volume types (architecture.volume_types): name, backend, hypervisor family."""
    if not target.architecture.volume_types:
        pytest.skip("the target declares no volume types (architecture.volume_types)")
    return target.architecture.volume_types


@pytest.fixture(scope="module")
def data_network(target):
    if target.architecture.data_network is None:
        pytest.skip("the target declares no data network (architecture.data_network)")
    return target.architecture.data_network


@dataclass(frozen=True)
class CinderConfig:
    role: str
    path: str
    host: object  # testinfra host
    conf: configparser.ConfigParser

    @property
    def where(self) -> str:
        return f"role {self.role}, host {self.host.backend.get_hostname()}, {self.path}"

    @property
    def text(self) -> str:
        """The raw file: multi-valued options (vmware_cluster_name) need every line, not configparser's last."""
        return read_text(self.host, self.path, "cinder config")


@pytest.fixture(scope="module")
def cinder_configs(hosts, target) -> list[CinderConfig]:
    """cinder.conf of every host role for which the target gives a cinder config path (where cinder-volume
    runs)."""
    roles = [role for role in hosts.roles() if "cinder" in target.hosts[role].config]
    if not roles:
        pytest.skip("the target gives no cinder config path for any host role (hosts.<role>.config.cinder)")
    return [CinderConfig(role, target.hosts[role].config["cinder"], host, conf)
            for role in roles for host, conf in hosts.config(role, "cinder")]



@dataclass(frozen=True)
class VmdkBackend:
    """A cinder.conf backend section that runs cinder's VMDK driver."""

    config: CinderConfig
    section: str

    def get(self, option: str, fallback: str = "") -> str:
        return self.config.conf.get(self.section, option, fallback=fallback).strip()

    def all(self, option: str) -> list[str]:
        return multi_values(self.config.text, self.section, option)

    @property
    def address(self) -> tuple[str, int]:
        return self.get("vmware_host_ip"), int(self.get("vmware_host_port") or VMWARE_DEFAULT_PORT)

    @property
    def where(self) -> str:
        return f"{self.config.where} [{self.section}]"


@pytest.fixture(scope="module")
def vmdk_backends(cinder_configs) -> list[VmdkBackend]:
    """Every backend section with cinder's VMDK driver, enabled or not: whether it runs is SP-BLK-001's
    question; what it is configured to use is asked of every one."""
    found = []
    for cinder in cinder_configs:
        for section in cinder.conf.sections():
            if cinder.conf.get(section, "volume_driver", fallback="").strip().endswith(VMDK_DRIVER.rsplit(".", 1)[1]):
                found.append(VmdkBackend(cinder, section))
    return found


@pytest.fixture(scope="module")
def vcenter_at(target) -> Callable[[tuple[str, int]], str | None]:
    """Finds the target's vCenter answering at an address (host, port) as written; with one vCenter, that one."""

    def find(address: tuple[str, int]) -> str | None:
        for name, vc in sorted(target.vcenters.items()):
            parts = urlsplit(vc.url)
            if (parts.hostname, parts.port or VMWARE_DEFAULT_PORT) == address:
                return name
        return next(iter(target.vcenters)) if len(target.vcenters) == 1 else None

    return find
