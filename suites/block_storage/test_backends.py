"""BLK-1 and BLK-2: a volume backend for each hypervisor family is up, and volume types route to it."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.block_storage.cinder_facts import PROTOCOLS_FOR, VMDK_DEFAULT_TYPE, VMDK_TYPES, protocol_fits

pytestmark = [pytest.mark.block_storage]

STATEMENT = "Shared storage serves Block Storage (Cinder) to KVM instances and vSphere storage to ESXi instances; " \
            "Block Storage supports both hypervisors."


def _service_states(block_storage) -> str:
    return ", ".join(f"{s.host} {s.state}/{s.status}" for s in block_storage.services) or "no cinder-volume service"


def _pool_facts(block_storage, pools: list) -> str:
    facts = []
    for pool in pools:
        service = block_storage.service_of(pool)
        state = f"{service.state}/{service.status}" if service else "no service record"
        facts.append(f"{pool.name} protocol={(pool.capabilities or {}).get('storage_protocol')} service={state}")
    return "; ".join(facts) or "no pool"


def _usable(block_storage, pool) -> bool:
    service = block_storage.service_of(pool)
    return service is not None and service.state == "up" and service.status == "enabled"


@pytest.mark.control(
    "SP-BLK-001",
    title="A volume backend for each hypervisor family is up and enabled",
    statement=STATEMENT,
)
@pytest.mark.readonly
def test_backends_up_for_both_hypervisors(block_storage, target) -> None:
    where = "block storage API: os-services (binary cinder-volume), scheduler-stats/get_pools"
    down = [s for s in block_storage.services if s.state != "up" or s.status != "enabled"]
    expect(not down, f"{len(down)} cinder-volume backend(s) not up and enabled: "
           f"{', '.join(s.host for s in down)}", expected="every cinder-volume backend state=up, status=enabled",
           found=_service_states(block_storage), where=where)
    usable = [p for p in block_storage.pools if _usable(block_storage, p)]
    backends = {(p.capabilities or {}).get("volume_backend_name") for p in usable}
    expect(len(backends) >= 2, "fewer than two volume backends are up and enabled",
           expected="at least two backends (one per hypervisor family)",
           found=f"{sorted(map(str, backends))}; services: {_service_states(block_storage)}", where=where)
    for family, protocols in sorted(PROTOCOLS_FOR.items()):
        serving = [p for p in usable if protocol_fits((p.capabilities or {}).get("storage_protocol"), family)]
        expect(bool(serving), f"no backend up and enabled serves {family} servers",
               expected=f"a pool with storage_protocol in {sorted(protocols)}, its service up and enabled",
               found=f"pools: {_pool_facts(block_storage, block_storage.pools)}; "
                     f"services: {_service_states(block_storage)}", where=where)
    for design in target.architecture.volume_types:
        pools = block_storage.pools_of(design.backend)
        expect(bool(pools) and all(_usable(block_storage, p) for p in pools),
               f"backend {design.backend} (volume type {design.name}) does not report up and enabled",
               expected=f"pools of volume_backend_name={design.backend}, their service up and enabled",
               found=f"pools: {_pool_facts(block_storage, pools)}; services: {_service_states(block_storage)}",
               where=where)
        for pool in pools:
            protocol = (pool.capabilities or {}).get("storage_protocol")
            expect(protocol_fits(protocol, design.hypervisor),
                   f"backend {design.backend} speaks a protocol {design.hypervisor} servers do not attach",
                   expected=f"storage_protocol in {sorted(PROTOCOLS_FOR[design.hypervisor])}",
                   found=f"storage_protocol={protocol}", where=f"{where}, pool {pool.name}")


@pytest.mark.control(
    "SP-BLK-002",
    title="Volume types route to the backend of their hypervisor family",
    statement=STATEMENT,
)
@pytest.mark.readonly
def test_volume_types_route_to_their_backend(block_storage, volume_design) -> None:
    for design in volume_design:
        volume_type = block_storage.types.get(design.name)
        expect(volume_type is not None, f"volume type {design.name} does not exist",
               expected=f"volume type {design.name} (backend {design.backend}, {design.hypervisor} servers)",
               found=f"volume types {sorted(block_storage.types)}", where="block storage API: types")
        specs = volume_type.extra_specs or {}
        where = f"volume type {design.name} ({volume_type.id})"
        backend = specs.get("volume_backend_name")
        expect(backend == design.backend, f"volume type {design.name} routes to backend {backend}, not to "
               f"{design.backend}", expected=f"volume_backend_name={design.backend}",
               found=f"volume_backend_name={backend}", where=where)
        vmware_specs = {k: v for k, v in specs.items() if k.startswith("vmware:")}
        if design.hypervisor == "vmware":
            # Unset, the VMDK driver makes thin disks; set, it must be a value the driver knows.
            disk = specs.get("vmware:vmdk_type", VMDK_DEFAULT_TYPE)
            expect(disk in VMDK_TYPES, f"volume type {design.name} asks for a VMDK disk type the driver rejects",
                   expected=f"vmware:vmdk_type in {sorted(VMDK_TYPES)}", found=f"vmware:vmdk_type={disk}",
                   where=where)
        else:
            expect(not vmware_specs, f"volume type {design.name} for {design.hypervisor} servers carries VMware "
                   "extra specs", expected="no vmware:* extra spec", found=vmware_specs, where=where)
        for pool in block_storage.pools_of(str(backend)):
            protocol = (pool.capabilities or {}).get("storage_protocol")
            expect(protocol_fits(protocol, design.hypervisor),
                   f"volume type {design.name} routes to pool {pool.name}, which {design.hypervisor} servers "
                   "cannot attach", expected=f"storage_protocol in {sorted(PROTOCOLS_FOR[design.hypervisor])}",
                   found=f"volume_backend_name={backend}, storage_protocol={protocol}", where=f"{where}, {pool.name}")
