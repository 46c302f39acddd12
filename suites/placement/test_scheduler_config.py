"""AGG-1: the scheduler is configured for image-metadata-driven placement."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true
from suites.placement.nova_facts import DEFAULT_ENABLED_FILTERS

pytestmark = [pytest.mark.placement]


@pytest.mark.control(
    "SP-AGG-001",
    title="Scheduler filters place instances by image metadata",
    statement="Images in Glance carry hypervisor metadata, so an instance built from one lands on the "
              "matching aggregate.",
)
@pytest.mark.readonly
def test_scheduler_filters_enforce_image_metadata(hosts, image_policy) -> None:
    for host, conf in hosts.config("scheduler", "nova"):
        where = f"host {host.backend.get_hostname()}, nova.conf"
        raw = conf.get("filter_scheduler", "enabled_filters", fallback=None)
        enabled = [f.strip() for f in raw.split(",") if f.strip()] if raw else list(DEFAULT_ENABLED_FILTERS)
        required = ["ComputeFilter", "ImagePropertiesFilter"]
        if "aggregate_image_properties_isolation" in image_policy.isolation:
            required.append("AggregateImagePropertiesIsolation")
        missing = [f for f in required if f not in enabled]
        expect(not missing, f"scheduler filters {', '.join(missing)} are not enabled",
               expected=f"[filter_scheduler] enabled_filters includes {', '.join(required)}",
               found=f"enabled_filters = {', '.join(enabled)}" + ("" if raw else " (nova's default)"),
               where=where)
        if "isolate_aggregates" in image_policy.isolation:
            value = conf.get("scheduler", "enable_isolated_aggregate_filtering", fallback="false")
            expect(is_true(value), "isolated aggregate filtering is off",
                   expected="[scheduler] enable_isolated_aggregate_filtering = True",
                   found=f"enable_isolated_aggregate_filtering = {value}", where=where)
        value = conf.get("scheduler", "query_placement_for_image_type_support", fallback="false")
        expect(is_true(value), "placement is not asked for image type support",
               expected="[scheduler] query_placement_for_image_type_support = True",
               found=f"query_placement_for_image_type_support = {value}", where=where)
