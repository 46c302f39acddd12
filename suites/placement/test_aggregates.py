"""AGG-2 and AGG-3: the KVM and VMware aggregates exist as designed, and their metadata really isolates."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import IMAGE_HV_TYPES_FOR
from suites.placement.nova_facts import LEGACY_PROPERTY_MAP

pytestmark = [pytest.mark.placement]


@pytest.mark.control(
    "SP-AGG-002",
    title="Aggregates exist with disjoint hosts of the right hypervisor type",
    statement="One OpenStack manages both: a host aggregate of KVM hypervisors for general instances, and one "
              "for instances that need ESXi.",
)
@pytest.mark.readonly
def test_aggregates_partition_the_compute_hosts(topology, expected_aggregates) -> None:
    names = [a.name for a in expected_aggregates]
    missing = [n for n in names if n not in topology.aggregates]
    expect(not missing, f"aggregate(s) {', '.join(missing)} do not exist",
           expected=f"aggregates {', '.join(names)}", found=f"aggregates {', '.join(sorted(topology.aggregates))}",
           where="compute API os-aggregates")
    owner: dict[str, str] = {}
    for name in names:
        for host in topology.aggregates[name].hosts or []:
            expect(host not in owner, f"host {host} is in both {owner.get(host)} and {name}",
                   expected="each compute host in exactly one of " + ", ".join(names),
                   found=f"{host} in {owner.get(host)} and {name}", where=f"aggregate {name}")
            owner[host] = name
    orphans = sorted(topology.compute_hosts - set(owner))
    expect(not orphans, f"compute host(s) {', '.join(orphans)} belong to none of the designed aggregates",
           expected="every nova-compute host in one of " + ", ".join(names),
           found=f"not in any: {', '.join(orphans)}", where="compute API os-services / os-aggregates")
    for spec in expected_aggregates:
        for host in topology.aggregates[spec.name].hosts or []:
            for hv in topology.hypervisors_on(host):
                expect(hv.hypervisor_type == spec.hypervisor_type,
                       f"hypervisor {hv.name} in aggregate {spec.name} has the wrong type",
                       expected=f"hypervisor_type {spec.hypervisor_type!r}", found=repr(hv.hypervisor_type),
                       where=f"aggregate {spec.name}, host {host}, hypervisor {hv.id}")


@pytest.mark.control(
    "SP-AGG-003",
    title="Aggregate metadata keys take effect for image isolation",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the "
              "matching aggregate.",
)
@pytest.mark.readonly
def test_aggregate_metadata_keys_take_effect(topology, expected_aggregates, image_policy) -> None:
    present = [spec for spec in expected_aggregates if spec.name in topology.aggregates]
    if "aggregate_image_properties_isolation" in image_policy.isolation:
        key = image_policy.metadata_key
        for spec in present:
            metadata = topology.aggregates[spec.name].metadata or {}
            where = f"aggregate {spec.name} ({topology.aggregates[spec.name].id})"
            ignored = {k: v for k, v in metadata.items() if k in LEGACY_PROPERTY_MAP}
            for wrong, value in ignored.items():
                expect(False, f"isolation is off for aggregate {spec.name}: AggregateImagePropertiesIsolation "
                              f"skips key {wrong!r} (nova looks it up as {LEGACY_PROPERTY_MAP[wrong]!r})",
                       expected=f"metadata key {LEGACY_PROPERTY_MAP[wrong]}={value}",
                       found=f"metadata key {wrong}={value}", where=where)
            expect(key in metadata, f"isolation is off for aggregate {spec.name}: no {key!r} metadata",
                   expected=f"metadata key {key}", found=f"metadata {metadata}", where=where)
            allowed = IMAGE_HV_TYPES_FOR.get(spec.hypervisor_type)
            values = {v.strip() for v in str(metadata[key]).split(",")}
            if allowed is not None and key == "img_hv_type":
                expect(values <= allowed, f"aggregate {spec.name} admits images of another hypervisor",
                       expected=f"{key} within {sorted(allowed)}", found=f"{key}={metadata[key]}", where=where)
    if "isolate_aggregates" in image_policy.isolation:
        for spec in present:
            metadata = topology.aggregates[spec.name].metadata or {}
            traits = [k.removeprefix("trait:") for k, v in metadata.items()
                      if k.startswith("trait:") and v == "required"]
            expect(bool(traits), f"aggregate {spec.name} requires no trait: isolated aggregate filtering is off",
                   expected="metadata trait:CUSTOM_<X>=required", found=f"metadata {metadata}",
                   where=f"aggregate {spec.name}")
