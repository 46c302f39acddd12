"""AGG-5: placement agrees with the aggregates: image-type traits per hypervisor, aggregates mirrored."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.placement.nova_facts import IMAGE_TYPE_TRAITS

pytestmark = [pytest.mark.placement]


def _placement_get(cloud, path: str, microversion: str) -> dict:
    response = cloud.placement.get(path, microversion=microversion)
    response.raise_for_status()
    return response.json()


@pytest.mark.control(
    "SP-AGG-005",
    title="Placement image-type traits and aggregates mirror the design",
    statement="Images carry hypervisor metadata, so an instance lands on the matching aggregate; placement "
              "prefilters by image type before any filter runs.",
)
@pytest.mark.readonly
def test_placement_traits_and_aggregates_match(cloud, topology, expected_aggregates) -> None:
    checked = 0
    for spec in expected_aggregates:
        aggregate = topology.aggregates.get(spec.name)
        if aggregate is None:
            continue  # SP-AGG-002 reports a missing aggregate
        required, forbidden = IMAGE_TYPE_TRAITS.get(spec.hypervisor_type, (set(), set()))
        for host in aggregate.hosts or []:
            for hv in topology.hypervisors_on(host):
                where = f"aggregate {spec.name}, host {host}, resource provider {hv.id} ({hv.name})"
                traits = set(_placement_get(cloud, f"/resource_providers/{hv.id}/traits", "1.6")["traits"])
                expect(required <= traits and not (forbidden & traits),
                       f"resource provider {hv.name} advertises the wrong image types",
                       expected=f"has {sorted(required)}, lacks {sorted(forbidden)}",
                       found=f"image-type traits {sorted(t for t in traits if 'IMAGE_TYPE' in t)}", where=where)
                rp_aggs = _placement_get(cloud, f"/resource_providers/{hv.id}/aggregates", "1.19")["aggregates"]
                expect(aggregate.uuid in rp_aggs, f"aggregate {spec.name} is not mirrored in placement",
                       expected=f"provider in placement aggregate {aggregate.uuid}", found=f"aggregates {rp_aggs}",
                       where=where)
                checked += 1
    expect(checked > 0, "no resource provider was checked", expected="at least one provider per aggregate",
           found="none", where="placement")
