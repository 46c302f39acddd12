"""FO-7: the VMware nova-compute dies; nova notices within its own bound, provisioning there stops cleanly,
running VMs keep running, and a restart brings back the same hypervisor, ready for new boots."""

from __future__ import annotations

import time

import pytest

from stackproof.findings import expect
from stackproof.servers import fault_message, settled
from stackproof.vsphere import vms_of_instance
from suites.failover.compute_api import boot_on, service_on

pytestmark = [pytest.mark.failover]

DETECTION_POLL = 1.0  # seconds between service reads while measuring detection: the measure's resolution


@pytest.mark.control(
    "SP-FO-007",
    title="Losing the VMware nova-compute is detected in time and survived",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning to that vCenter stops "
              "even with HA, so it must be monitored: its loss shows within nova's bound, running VMs keep "
              "running, and a restart brings the same hypervisor back.",
)
@pytest.mark.disruptive
def test_vmware_compute_loss_is_detected_and_survived(cloud, target, vmware_computes, failover_timing, fault_actions,
                                                       resources, waiter, vcenters, vmware_boot,
                                                       record_property) -> None:
    declared = [s for s in sorted(vmware_computes.services, key=lambda s: s.host)
                if f"nova-compute@{s.host}" in target.faults.services]
    host = (declared or sorted(vmware_computes.services, key=lambda s: s.host))[0].host
    fault_actions.service("nova-compute", host)  # skips, naming the key, when nothing is declared
    before = service_on(cloud, host)
    expect(before.state == "up" and before.status == "enabled" and not before.is_forced_down,
           f"nova-compute on {host} is not healthy before the check: nothing to take away",
           expected="state=up, status=enabled, not forced down",
           found=f"state={before.state}, status={before.status}, forced_down={before.is_forced_down}",
           where=f"service {before.id} on {host}")
    hypervisors = vmware_computes.hypervisors_of(host)
    expect(len(hypervisors) == 1, f"nova-compute on {host} does not show one hypervisor",
           expected="one hypervisor", found=[h.name for h in hypervisors], where=f"nova-compute on {host}")
    hypervisor = hypervisors[0]
    bound = failover_timing.service_down_time + failover_timing.report_interval
    record_property("measure.detection_bound_seconds", bound)

    began = time.monotonic()
    survivor = settled(cloud, waiter, boot_on(cloud, resources, vmware_boot, host, "fo7-survivor"),
                       f"a server booted onto {host} before the kill")
    boot_seconds = time.monotonic() - began
    record_property("measure.boot_seconds", round(boot_seconds, 1))
    expect(survivor.status == "ACTIVE", f"the server booted onto {host} before the kill did not go ACTIVE",
           expected="ACTIVE", found=f"{survivor.status}: {fault_message(survivor)}",
           where=f"server {survivor.id}, image {vmware_boot.image_name}, flavor {vmware_boot.flavor_name}")

    def healthy():
        svc = service_on(cloud, host)
        return svc if svc.state == "up" and svc.status == "enabled" else None

    with fault_actions.service_killed("nova-compute", host, healthy=healthy,
                                      healthy_name=f"nova-compute on {host} up and enabled") as killed:
        down = waiter.until(lambda: service_on(cloud, host), limit="service_state", interval=DETECTION_POLL,
                            until=lambda s: s.state == "down", state=lambda s: f"state={s.state}",
                            description=f"the compute API to show nova-compute on {host} down")
        detection = killed.since_injected()
        record_property("measure.detection_seconds", round(detection, 1))
        expect(detection <= bound, f"nova-compute on {host} showed down only after {detection:.1f} s, beyond "
               f"nova's own bound of {bound} s",
               expected=f"down within service_down_time + report_interval = {bound} s",
               found=f"down after {detection:.1f} s", where=f"service {down.id} on {host}")

        survivor_now = cloud.compute.get_server(survivor.id)
        expect(survivor_now.host_status == "UNKNOWN", f"server {survivor.id} on the lost compute does not show "
               "its host as unknown", expected="host_status=UNKNOWN", found=f"host_status={survivor_now.host_status}",
               where=f"server {survivor.id} on {host}")

        refused = settled(cloud, waiter, boot_on(cloud, resources, vmware_boot, host, "fo7-refused"),
                          f"a boot onto {host} while its nova-compute is down")
        expect(refused.status == "ERROR" and "No valid host" in fault_message(refused),
               f"a boot onto {host} while its nova-compute is down did not end 'No valid host'",
               expected="ERROR with fault 'No valid host'",
               found=f"{refused.status}: {fault_message(refused) or 'no fault'}",
               where=f"server {refused.id}, host {refused.compute_host or host}")

        vms = [vm for _name, vm in vms_of_instance({vcenters.names()[0]: vcenters.get()}, survivor.id,
                                                     ["runtime.powerState"])]
        states = [str(vm.get("runtime.powerState")) for vm in vms]
        expect(states == ["poweredOn"], f"the VM of server {survivor.id} did not keep running in vCenter",
               expected="one VM, poweredOn", found=states or "no VM",
               where=f"vCenter {vcenters.names()[0]}, instanceUuid {survivor.id}")

        began = time.monotonic()
        fault_actions.start_service(killed, "nova-compute", host)
        back = waiter.until(lambda: service_on(cloud, host), limit="service_state", interval=DETECTION_POLL,
                            until=lambda s: s.state == "up", state=lambda s: f"state={s.state}",
                            description=f"the compute API to show nova-compute on {host} up after its start")
        recovery = time.monotonic() - began
        recovery_bound = failover_timing.report_interval + failover_timing.restart_margin
        record_property("measure.recovery_seconds", round(recovery, 1))
        record_property("measure.recovery_bound_seconds", recovery_bound)
        record_property("measure.outage_seconds", round(killed.since_injected(), 1))
        expect(recovery <= recovery_bound, f"nova-compute on {host} showed up only {recovery:.1f} s after its "
               f"start, beyond report_interval + restart_margin = {recovery_bound} s",
               expected=f"up within {recovery_bound} s of the start", found=f"up after {recovery:.1f} s",
               where=f"service {back.id} on {host}")

    after = vmware_computes_hypervisor(cloud, host)
    expect([(h.id, h.name) for h in after] == [(hypervisor.id, hypervisor.name)],
           f"nova-compute on {host} came back as another hypervisor",
           expected=f"hypervisor {hypervisor.name} ({hypervisor.id})",
           found=[f"{h.name} ({h.id})" for h in after], where=f"service {back.id} on {host}")
    provider = cloud.placement.get(f"/resource_providers/{hypervisor.id}", microversion="1.14")
    expect(provider.status_code == 200 and provider.json().get("name") == hypervisor.name,
           f"the resource provider of {hypervisor.name} did not survive the restart",
           expected=f"resource provider {hypervisor.id} named {hypervisor.name}",
           found=f"HTTP {provider.status_code}: {provider.text[:200]}",
           where=f"placement, request {provider.headers.get('x-openstack-request-id')}")
    fresh = settled(cloud, waiter, boot_on(cloud, resources, vmware_boot, host, "fo7-after"),
                    f"a boot onto {host} after its nova-compute came back")
    # Kill to a working cluster again: detection, the refused boot, the restart and a new boot, against the
    # two heartbeat bounds (down, then up) plus one boot.
    record_property("measure.kill_to_recovered_seconds", round(killed.since_injected(), 1))
    record_property("measure.kill_to_recovered_bound_seconds", round(2 * bound + boot_seconds, 1))
    expect(fresh.status == "ACTIVE", f"a boot onto {host} after the restart did not go ACTIVE",
           expected="ACTIVE", found=f"{fresh.status}: {fault_message(fresh)}", where=f"server {fresh.id}")


def vmware_computes_hypervisor(cloud, host: str) -> list:
    return [hv for hv in cloud.compute.hypervisors(details=True) if (hv.service_details or {}).get("host") == host]
