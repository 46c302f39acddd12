"""FO-1, FO-5, FO-6: every VMware nova-compute is up and fresh, fronts one cluster, and vCenter is reachable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.failover]


def _age_seconds(updated_at: str | None) -> float | None:
    if not updated_at:
        return None
    stamp = datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # nova reports naive UTC
    return (datetime.now(UTC) - stamp).total_seconds()


def cluster_of(hypervisor_hostname: str) -> str:
    """`<cluster moid>.<vCenter instance uuid>` -> the cluster part."""
    return hypervisor_hostname.split(".", 1)[0]


@pytest.mark.control(
    "SP-FO-001",
    title="nova-computes of the designed aggregates are up, enabled and reporting",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning to that vCenter stops "
              "even with HA, so it must be monitored.",
)
@pytest.mark.readonly
def test_computes_up_enabled_and_fresh(cloud, target, vmware_computes, failover_timing) -> None:
    expect(bool(vmware_computes.services), "no nova-compute fronts a vCenter cluster",
           expected="at least one VMware nova-compute service", found="none",
           where="compute API os-services / os-hypervisors")
    designed = {a.name for a in target.architecture.aggregates}
    hosts = {h for agg in cloud.compute.aggregates() if agg.name in designed for h in agg.hosts or []}
    services = [s for s in cloud.compute.services(binary="nova-compute") if s.host in hosts]
    # Every unhealthy service in one report: an operator at 3 a.m. needs the whole picture, not the first.
    problems: list[str] = []
    for svc in sorted({s.id: s for s in [*vmware_computes.services, *services]}.values(), key=lambda s: s.host):
        age = _age_seconds(svc.updated_at)
        if svc.state != "up" or svc.status != "enabled" or svc.is_forced_down:
            problems.append(f"{svc.host} ({svc.id}): state={svc.state}, status={svc.status}, "
                            f"forced_down={svc.is_forced_down}, disabled_reason={svc.disabled_reason}")
        elif age is None or age > failover_timing.service_down_time:
            problems.append(f"{svc.host} ({svc.id}): updated_at={svc.updated_at}"
                            + (f" ({age:.0f} s ago)" if age is not None else ""))
    expect(not problems, f"{len(problems)} nova-compute service(s) cannot take instances",
           expected=f"state=up, status=enabled, forced_down=False, updated_at within service_down_time "
                    f"({failover_timing.service_down_time} s)",
           found="; ".join(problems), where="compute API os-services (binary nova-compute)")


@pytest.mark.control(
    "SP-FO-005",
    title="No duplicate compute nodes and no cluster fronted twice",
    statement="One nova-compute fronts a whole ESXi cluster as one big hypervisor; several nova-computes can "
              "front several clusters.",
)
@pytest.mark.readonly
def test_no_cluster_fronted_twice(cloud, vmware_computes) -> None:
    names: dict[str, list[str]] = {}
    for hv in cloud.compute.hypervisors(details=True):
        names.setdefault(hv.name, []).append(f"{hv.id} on {(hv.service_details or {}).get('host')}")
    duplicates = {name: where for name, where in names.items() if len(where) > 1}
    expect(not duplicates, f"{len(duplicates)} hypervisor name(s) registered more than once",
           expected="each hypervisor_hostname once", found=duplicates, where="compute API os-hypervisors")
    fronts: dict[str, set[str]] = {}
    for hv in vmware_computes.hypervisors:
        fronts.setdefault(hv.name, set()).add((hv.service_details or {}).get("host"))
    twice = {name: sorted(hosts) for name, hosts in fronts.items() if len(hosts) > 1}
    expect(not twice, "a vCenter cluster is fronted by more than one nova-compute",
           expected="one nova-compute per cluster", found=twice, where="compute API os-hypervisors")


@pytest.mark.control(
    "SP-FO-006",
    title="No VMware compute has lost its vCenter",
    statement="If the nova-compute cannot reach vCenter, provisioning to that vCenter stops, so it must be "
              "monitored.",
)
@pytest.mark.readonly
def test_no_vcenter_loss_signature(vmware_computes) -> None:
    lost = [svc for svc in vmware_computes.services
            if svc.status == "disabled" and "set by vmwareapi host_state" in (svc.disabled_reason or "")]
    expect(not lost, "nova's VMware driver disabled its service: it cannot reach vCenter",
           expected="no service disabled with reason 'set by vmwareapi host_state'",
           found=", ".join(f"{s.host}: {s.disabled_reason}" for s in lost),
           where=", ".join(f"service {s.id} on {s.host}" for s in lost))
