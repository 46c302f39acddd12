"""Where a server booted from a volume can land, as the cloud itself says: the hypervisor family of every
compute host, the availability zone of every compute host and volume backend, the zones a volume type's
volumes are created in, and whether nova pins a volume-backed server to its volume's zone.

nova skips its image-type pre-filter for boot from volume (`request_spec.is_bfv`) and an image without
hypervisor metadata passes both image filters, so nothing about the image keeps a volume of one family's type
off the other family's computes. What works is a zone per family: nova's `[cinder] cross_az_attach=False`
makes a server without a requested zone take its volume's zone (nova/compute/api.py
`_validate_vol_az_for_create`), unless that zone is nova's own `[DEFAULT] default_availability_zone`, which
it deliberately never pins.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from typing import Any

from stackproof.hostconfig import is_true
from stackproof.servers import KVM_HV_TYPE, VMWARE_HV_TYPE
from suites.block_storage.cinder_facts import NOVA_CROSS_AZ_ATTACH_DEFAULT, PROTOCOLS_FOR, protocol_fits

# The hypervisor API's hypervisor_type -> the family a volume type's `hypervisor` names.
FAMILY_OF = {KVM_HV_TYPE: "kvm", VMWARE_HV_TYPE: "vmware"}
NOVA_DEFAULT_AZ = "nova"  # nova [DEFAULT] default_availability_zone when nova.conf does not set it
TYPE_ZONES_SPEC = "RESKEY:availability_zones"  # cinder: the zones a type's volumes may be created in


def family_of(hypervisor_type: str | None) -> str:
    return FAMILY_OF.get(hypervisor_type or "", (hypervisor_type or "unknown").lower())


@dataclass(frozen=True)
class NovaZonePolicy:
    """What nova-api does with a volume's zone, from one nova.conf of a host running nova-api."""

    cross_az_attach: bool
    default_zone: str
    where: str

    @classmethod
    def read(cls, conf: configparser.ConfigParser, where: str) -> NovaZonePolicy:
        return cls(
            cross_az_attach=is_true(conf.get("cinder", "cross_az_attach",
                                             fallback=str(NOVA_CROSS_AZ_ATTACH_DEFAULT))),
            default_zone=conf.get("DEFAULT", "default_availability_zone", fallback="").strip() or NOVA_DEFAULT_AZ,
            where=where,
        )

    def pins(self, zone: str) -> bool:
        """Whether a server booted from a volume in `zone` (no zone requested) is scheduled into that zone."""
        return not self.cross_az_attach and zone != self.default_zone


@dataclass(frozen=True)
class ComputeZones:
    """Compute hosts by availability zone, with each host's hypervisor family."""

    hosts: dict[str, dict[str, str]]  # zone -> {nova host name: family}

    @classmethod
    def read(cls, cloud: Any) -> ComputeZones:
        families: dict[str, set[str]] = {}
        for hv in cloud.compute.hypervisors(details=True):
            host = (hv.service_details or {}).get("host")
            if host:
                families.setdefault(host, set()).add(family_of(hv.hypervisor_type))
        zones: dict[str, dict[str, str]] = {}
        for zone in cloud.compute.availability_zones(details=True):
            for host, services in (zone.hosts or {}).items():
                if "nova-compute" in (services or {}):
                    zones.setdefault(zone.name, {})[host] = ",".join(sorted(families.get(host, {"unknown"})))
        return cls(zones)

    def families_in(self, zone: str) -> set[str]:
        return set(self.hosts.get(zone, {}).values())

    def describe(self, zone: str) -> str:
        hosts = self.hosts.get(zone, {})
        return f"{zone}: " + (", ".join(f"{h} ({f})" for h, f in sorted(hosts.items())) or "no compute host")


@dataclass
class TypePlacement:
    """Where the volumes of one volume type go and where servers booted from them can land."""

    name: str
    families: set[str]  # hypervisor families its backends' transports serve
    zones: set[str]  # availability zones its volumes are created in
    problems: list[str] = field(default_factory=list)
    landing: list[str] = field(default_factory=list)

    @property
    def steered(self) -> bool:
        return bool(self.families) and not self.problems


def type_placement(vtype: Any, block_storage: Any, computes: ComputeZones, nova: NovaZonePolicy) -> TypePlacement:
    """How servers booted from `vtype` volumes are kept on the family of the backend that holds the volume, or
    what lets them stray."""
    specs = vtype.extra_specs or {}
    backend = specs.get("volume_backend_name")
    allowed = ({z.strip() for z in str(specs[TYPE_ZONES_SPEC]).split(",") if z.strip()}
               if TYPE_ZONES_SPEC in specs else None)
    served: dict[str, set[str]] = {}  # zone -> families the type's backends there serve
    for pool in block_storage.pools_of(backend) if backend else block_storage.pools:
        zone = getattr(block_storage.service_of(pool), "availability_zone", None)
        if zone is None or (allowed is not None and zone not in allowed):
            continue
        protocol = (pool.capabilities or {}).get("storage_protocol")
        served.setdefault(zone, set()).update(f for f in PROTOCOLS_FOR if protocol_fits(protocol, f))
    families = set().union(*served.values()) if served else set()
    placement = TypePlacement(vtype.name, families, set(served))
    if not families:
        return placement
    others = sorted({f for hosts in computes.hosts.values() for f in hosts.values()} - families)
    for zone, here in sorted(served.items()):
        present = computes.families_in(zone)
        if not nova.pins(zone):
            why = ("nova's [cinder] cross_az_attach is true" if nova.cross_az_attach
                   else f"{zone} is nova's own default_availability_zone, which nova never pins")
            placement.problems.append(f"a server booted from a volume in {zone} is not kept in {zone} ({why}): it "
                                      f"can land on {', '.join(others) + ' computes' if others else 'any compute'}")
        elif not present:
            placement.problems.append(f"zone {zone} has no compute host: its volume-backed servers cannot start")
        elif present - here:
            placement.problems.append(f"zone {zone} holds {'/'.join(sorted(here))} volumes and other computes "
                                      f"({computes.describe(zone)}): their servers can land on the wrong family")
        placement.landing.append(computes.describe(zone))
    return placement
