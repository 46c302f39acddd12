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
def test_scheduler_filters_enforce_image_metadata(cloud, hosts, image_policy) -> None:
    # Every nova-scheduler the cloud runs, read where the target's inventory says it runs.
    names = [s.host for s in cloud.compute.services(binary="nova-scheduler")]
    expect(bool(names), "the compute API lists no nova-scheduler", expected="at least one nova-scheduler service",
           found="none", where="compute API os-services")
    scope = hosts.scope(names, "nova", claims=())
    problems = scope.gaps("nova-scheduler")
    required = ["ComputeFilter", "ImagePropertiesFilter"]
    if "aggregate_image_properties_isolation" in image_policy.isolation:
        required.append("AggregateImagePropertiesIsolation")
    seen = set()
    for name, items in sorted(scope.covered.items()):
        for item in items:
            if (item.host.backend.get_hostname(), item.config_path) in seen:
                continue  # one host under several roles (controller, scheduler)
            seen.add((item.host.backend.get_hostname(), item.config_path))
            where, conf = f"{name} ({item.where})", item.conf
            raw = conf.get("filter_scheduler", "enabled_filters", fallback=None)
            enabled = [f.strip() for f in raw.split(",") if f.strip()] if raw else list(DEFAULT_ENABLED_FILTERS)
            missing = [f for f in required if f not in enabled]
            if missing:
                problems.append(f"{where}: [filter_scheduler] enabled_filters lacks {', '.join(missing)} "
                                f"(enabled_filters = {', '.join(enabled)}{'' if raw else ', nova default'})")
            if "isolate_aggregates" in image_policy.isolation:
                value = conf.get("scheduler", "enable_isolated_aggregate_filtering", fallback="false")
                if not is_true(value):
                    problems.append(f"{where}: isolated aggregate filtering is off "
                                    f"(enable_isolated_aggregate_filtering = {value})")
            value = conf.get("scheduler", "query_placement_for_image_type_support", fallback="false")
            if not is_true(value):
                problems.append(f"{where}: placement is not asked for image type support "
                                f"(query_placement_for_image_type_support = {value})")
    expect(not problems, f"{len(problems)} scheduler configuration problem(s)",
           expected=f"every nova-scheduler's nova.conf: enabled_filters includes {', '.join(required)}; "
                    "query_placement_for_image_type_support = True",
           found="; ".join(problems), where="compute API os-services (nova-scheduler); nova.conf on each host")
