"""BLK-10: the availability zones of nova and cinder line up where nova needs them to."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true
from suites.block_storage.cinder_facts import CINDER_DEFAULT_AZ, NOVA_CROSS_AZ_ATTACH_DEFAULT

pytestmark = [pytest.mark.block_storage]


def _cinder_default_zone(cinder) -> str:
    conf = cinder.conf
    return (conf.get("DEFAULT", "default_availability_zone", fallback="").strip()
            or conf.get("DEFAULT", "storage_availability_zone", fallback="").strip() or CINDER_DEFAULT_AZ)


@pytest.mark.control(
    "SP-BLK-010",
    title="Availability zones of compute and block storage line up",
    statement="Block Storage supports both hypervisors: a server in any availability zone gets its volumes.",
)
@pytest.mark.readonly
def test_availability_zones_line_up(cloud, hosts, target, block_storage, cinder_configs) -> None:
    nova_conf = hosts.config("controller", "nova")
    host, conf = nova_conf[0]
    cross_az = is_true(conf.get("cinder", "cross_az_attach", fallback=str(NOVA_CROSS_AZ_ATTACH_DEFAULT)))
    nova_where = f"role controller, host {host.backend.get_hostname()}, {target.hosts['controller'].config['nova']}"
    volume_zones = {s.availability_zone for s in block_storage.services if s.status == "enabled"}
    listed = {z.name: (z.state or {}).get("available") for z in cloud.block_storage.availability_zones()}
    usable = {name for name, available in listed.items() if available} & volume_zones
    zones_found = f"cinder zones {listed}; enabled cinder-volume services in {sorted(volume_zones)}"
    for cinder in cinder_configs:
        # Volumes created without a zone (all of nova's when cross_az_attach is true) land in cinder's default.
        default = _cinder_default_zone(cinder)
        expect(default in usable, f"cinder's default availability zone {default} has no enabled volume service",
               expected=f"{default} listed available with an enabled cinder-volume service", found=zones_found,
               where=cinder.where)
    if cross_az:
        return
    compute_zones = {z.name for z in cloud.compute.availability_zones(details=True)
                     if any("nova-compute" in services for services in (z.hosts or {}).values())}
    missing = sorted(compute_zones - usable)
    expect(not missing, f"[cinder] cross_az_attach=False but compute zone(s) {', '.join(missing)} have no "
           "cinder zone: servers there cannot attach volumes",
           expected=f"cinder zones covering {sorted(compute_zones)}", found=zones_found,
           where=f"{nova_where}; block storage API os-availability-zone, os-services")
