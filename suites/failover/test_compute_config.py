"""FO-3: heartbeat timing that nova honours, and VMware driver settings that verify TLS."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true
from stackproof.servers import VMWARE_HV_TYPE

pytestmark = [pytest.mark.failover]

NOVA_DEFAULT_REPORT_INTERVAL = 10
NOVA_DEFAULT_SERVICE_DOWN_TIME = 60


@pytest.mark.control(
    "SP-FO-003",
    title="Heartbeat timing and VMware driver settings are sound",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning stops, so it must be "
              "monitored: its heartbeat must be able to show it down.",
)
@pytest.mark.readonly
def test_heartbeat_timing_and_driver_settings(cloud, hosts, failover_timing) -> None:
    controller = hosts.config("controller", "nova")
    down_time = int(controller[0][1].get("DEFAULT", "service_down_time", fallback=NOVA_DEFAULT_SERVICE_DOWN_TIME))
    expect(down_time == failover_timing.service_down_time, "service_down_time differs from the design",
           expected=f"service_down_time={failover_timing.service_down_time}", found=f"service_down_time={down_time}",
           where=f"host {controller[0][0].backend.get_hostname()}, controller nova.conf")
    # Every nova-compute the cloud lists, read where the target's inventory says it runs.
    computes = [s.host for s in cloud.compute.services(binary="nova-compute")]
    vmware = {(hv.service_details or {}).get("host") for hv in cloud.compute.hypervisors(details=True)
              if hv.hypervisor_type == VMWARE_HV_TYPE}
    scope = hosts.computes(computes)
    problems = scope.gaps("nova-compute")
    for name, items in sorted(scope.covered.items()):
        for item in items:
            conf, where = item.conf, f"{name} ({item.where})"
            interval = int(conf.get("DEFAULT", "report_interval", fallback=NOVA_DEFAULT_REPORT_INTERVAL))
            # nova silently replaces service_down_time by 2.5 x report_interval when it is not larger.
            if interval >= down_time:
                problems.append(f"{where}: report_interval={interval}, not below service_down_time={down_time} "
                                "(nova silently stretches the down detection to 2.5 x report_interval)")
            if name not in vmware:
                continue
            driver = conf.get("DEFAULT", "compute_driver", fallback="")
            if not driver.endswith("vmwareapi.VMwareVCDriver"):
                problems.append(f"{where}: compute_driver={driver}, not vmwareapi.VMwareVCDriver")
            unset = [k for k in ("host_ip", "host_username", "host_password", "cluster_name")
                     if not conf.get("vmware", k, fallback="").strip()]
            if unset:
                problems.append(f"{where}: [vmware] {', '.join(unset)} unset")
            if is_true(conf.get("vmware", "insecure", fallback="false")):
                problems.append(f"{where}: [vmware] insecure=true: the driver does not verify vCenter's certificate")
    expect(not problems, f"{len(problems)} nova-compute configuration problem(s)",
           expected=f"for every nova-compute the compute API lists: its nova.conf in the target's inventory, "
                    f"report_interval < {down_time}; on VMware computes VMwareVCDriver with host_ip, host_username, "
                    "host_password and cluster_name set and insecure=false",
           found="; ".join(problems), where="compute API os-services and os-hypervisors; nova.conf on each host")
