"""FO-8: forced_down fencing takes effect at once and is undone.

An HA manager that fences a dead compute (or an operator evacuating it) relies on forced_down making the
service down immediately, without waiting for service_down_time, and on the scheduler then leaving it out.
"""

from __future__ import annotations

import time

import pytest

from stackproof.findings import expect
from stackproof.servers import fault_message, settled
from suites.failover.compute_api import boot_on, forced_down, service_on

pytestmark = [pytest.mark.failover]


@pytest.mark.control(
    "SP-FO-008",
    title="Forced-down fencing of the VMware nova-compute takes effect at once and is undone",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning to that vCenter stops "
              "even with HA: fencing it (forced_down) must stop scheduling there at once, and unfencing must "
              "give the cluster back.",
)
@pytest.mark.disruptive
def test_forced_down_fencing_is_immediate_and_undone(cloud, vmware_computes, resources, waiter, vmware_boot,
                                                     record_property) -> None:
    service = sorted(vmware_computes.services, key=lambda s: s.host)[0]
    host = service.host
    before = service_on(cloud, host)
    expect(before.state == "up" and before.status == "enabled" and not before.is_forced_down,
           f"nova-compute on {host} is not healthy before the check: nothing to fence",
           expected="state=up, status=enabled, not forced down",
           found=f"state={before.state}, status={before.status}, forced_down={before.is_forced_down}",
           where=f"service {before.id} on {host}")

    with forced_down(cloud, waiter, before):
        fenced_at = time.monotonic()
        seen = service_on(cloud, host)  # the first read after the call: "at once" means no waiting
        record_property("measure.fencing_seconds", round(time.monotonic() - fenced_at, 1))
        expect(seen.state == "down" and seen.is_forced_down,
               f"fencing nova-compute on {host} did not take effect at once",
               expected="state=down, forced_down=true on the first read after PUT os-services",
               found=f"state={seen.state}, forced_down={seen.is_forced_down}", where=f"service {seen.id} on {host}")
        refused = settled(cloud, waiter, boot_on(cloud, resources, vmware_boot, host, "fo8-fenced"),
                          f"a boot onto {host} while its nova-compute is fenced")
        expect(refused.status == "ERROR" and "No valid host" in fault_message(refused),
               f"the scheduler still placed onto {host} while its nova-compute was fenced",
               expected="ERROR with fault 'No valid host'",
               found=f"{refused.status} on {refused.compute_host}: {fault_message(refused) or 'no fault'}",
               where=f"server {refused.id}, service {seen.id} on {host}")
        unfenced_at = time.monotonic()

    record_property("measure.unfencing_seconds", round(time.monotonic() - unfenced_at, 1))
    after = service_on(cloud, host)
    expect(after.state == "up" and after.status == "enabled" and not after.is_forced_down,
           f"nova-compute on {host} is not back to healthy after unfencing",
           expected="state=up, status=enabled, not forced down",
           found=f"state={after.state}, status={after.status}, forced_down={after.is_forced_down}",
           where=f"service {after.id} on {host}")
    fresh = settled(cloud, waiter, boot_on(cloud, resources, vmware_boot, host, "fo8-unfenced"),
                    f"a boot onto {host} after unfencing")
    expect(fresh.status == "ACTIVE", f"a boot onto {host} after unfencing did not go ACTIVE",
           expected="ACTIVE", found=f"{fresh.status}: {fault_message(fresh)}", where=f"server {fresh.id}")
