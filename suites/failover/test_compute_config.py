"""FO-3: heartbeat timing that nova honours, and VMware driver settings that verify TLS."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true

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
def test_heartbeat_timing_and_driver_settings(hosts, target, failover_timing) -> None:
    controller = hosts.config("controller", "nova")
    down_time = int(controller[0][1].get("DEFAULT", "service_down_time", fallback=NOVA_DEFAULT_SERVICE_DOWN_TIME))
    expect(down_time == failover_timing.service_down_time, "service_down_time differs from the design",
           expected=f"service_down_time={failover_timing.service_down_time}", found=f"service_down_time={down_time}",
           where=f"host {controller[0][0].backend.get_hostname()}, controller nova.conf")
    compute_roles = [role for role in hosts.roles() if role.startswith("compute-")]
    expect(bool(compute_roles), "the target describes no compute host role", expected="compute-* roles",
           found=hosts.roles(), where="target hosts")
    for role in compute_roles:
        for host, conf in hosts.config(role, "nova"):
            where = f"role {role}, host {host.backend.get_hostname()}, {target.hosts[role].config['nova']}"
            interval = int(conf.get("DEFAULT", "report_interval", fallback=NOVA_DEFAULT_REPORT_INTERVAL))
            # nova silently replaces service_down_time by 2.5 x report_interval when it is not larger.
            expect(interval < down_time, "report_interval is not below service_down_time: nova silently "
                   "stretches the down detection to 2.5 x report_interval",
                   expected=f"report_interval < {down_time}", found=f"report_interval={interval}", where=where)
            if not role.startswith("compute-vmware"):
                continue
            driver = conf.get("DEFAULT", "compute_driver", fallback="")
            expect(driver.endswith("vmwareapi.VMwareVCDriver"), "the VMware compute does not run VMwareVCDriver",
                   expected="compute_driver=vmwareapi.VMwareVCDriver", found=f"compute_driver={driver}", where=where)
            unset = [k for k in ("host_ip", "host_username", "host_password", "cluster_name")
                     if not conf.get("vmware", k, fallback="").strip()]
            expect(not unset, f"[vmware] {', '.join(unset)} unset", expected="host_ip, host_username, "
                   "host_password, cluster_name set", found=f"unset: {', '.join(unset)}", where=where)
            insecure = is_true(conf.get("vmware", "insecure", fallback="false"))
            expect(not insecure, "the VMware driver does not verify vCenter's certificate",
                   expected="[vmware] insecure=false (with ca_file)", found="insecure=true", where=where)
