"""FO-4: the VMware nova-compute runs under supervision, keeps one identity across an active/standby pair,
and reaches its vCenter from where it runs."""

from __future__ import annotations

import shlex

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true

pytestmark = [pytest.mark.failover]

VMWARE_ROLE_PREFIX = "compute-vmware"
RESTART_POLICIES = ("always", "on-failure", "on-abnormal", "on-abort", "on-watchdog")
REACH_SECONDS = 3  # a vCenter on the management network answers a TCP connect well within this


def nova_compute_processes(host, config_path: str) -> list[str]:
    """Command lines of the nova-compute processes on `host`; when they name their config files (several
    computes on one host, or a unit passing --config-file), only those naming the one the target gives."""
    lines = [line for line in host.check_output("ps -eww -o args").splitlines()
             if "nova-compute" in line and "ps -eww" not in line and not line.startswith("[")]
    processes = [line for line in lines if any(part.endswith("/nova-compute") or part == "nova-compute"
                                               for part in line.split()[:2])]
    if any("--config-file" in line or "--config-dir" in line for line in processes):
        return [line for line in processes if config_path in line]
    return processes


def vcenter_answer(host, address: str, port: int, conf) -> str:
    """The HTTP status of vCenter's SDK endpoint as the compute reaches it, with the compute's own TLS
    settings ([vmware] ca_file / insecure), or curl's error: a TCP accept alone can come from a proxy or
    load balancer with nothing behind it."""
    if is_true(conf.get("vmware", "insecure", fallback="false")):
        tls = "--insecure"
    else:
        ca_file = conf.get("vmware", "ca_file", fallback="")
        tls = f"--cacert {shlex.quote(ca_file)}" if ca_file else ""
    result = host.run(f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time {REACH_SECONDS} {tls} "
                      f"https://{address}:{port}/sdk/vimServiceVersions.xml")
    return result.stdout.strip() if result.rc == 0 else (result.stderr.strip() or f"curl exit {result.rc}")


def restart_policy(host, unit: str) -> str:
    return host.check_output(f"systemctl show -p Restart --value {unit}").strip()


@pytest.mark.control(
    "SP-FO-004",
    title="The VMware nova-compute is supervised, keeps its host identity and reaches vCenter",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning to that vCenter stops "
              "even with HA, so it must be monitored and brought back: it runs supervised, an active/standby "
              "pair shares one [DEFAULT] host, and the vCenter port answers from the compute.",
)
@pytest.mark.readonly
def test_vmware_compute_is_supervised_and_reaches_vcenter(hosts, target, record_property) -> None:
    roles = [role for role in hosts.roles() if role.startswith(VMWARE_ROLE_PREFIX)]
    expect(bool(roles), "the target describes no VMware compute host role", expected=f"{VMWARE_ROLE_PREFIX}* roles",
           found=hosts.roles(), where="target hosts")
    supervision = []
    for role in roles:
        declared = target.hosts[role]
        config_path = declared.config.get("nova", "/etc/nova/nova.conf")
        identities = set()
        for host, conf in hosts.config(role, "nova"):
            name = host.backend.get_hostname()
            where = f"role {role}, host {name}, {config_path}"
            identity = conf.get("DEFAULT", "host", fallback="") or name
            identities.add(identity)
            running = nova_compute_processes(host, config_path)
            expect(bool(running), f"no nova-compute process runs for [DEFAULT] host={identity}",
                   expected=f"a running nova-compute (--config-file {config_path})", found="no such process",
                   where=where)
            unit = declared.units.get("nova-compute")
            if unit:
                service = host.service(unit)
                policy = restart_policy(host, unit)
                expect(service.is_running and service.is_enabled and policy in RESTART_POLICIES,
                       f"nova-compute's unit {unit} does not supervise it",
                       expected=f"running, enabled, Restart= one of {', '.join(RESTART_POLICIES)}",
                       found=f"running={service.is_running}, enabled={service.is_enabled}, Restart={policy or 'no'}",
                       where=where)
                supervision.append(f"{name}: {unit} Restart={policy}")
            else:
                supervision.append(f"{name}: no unit declared")
            address = conf.get("vmware", "host_ip", fallback="")
            port = conf.getint("vmware", "host_port", fallback=443)
            answer = vcenter_answer(host, address, port, conf) if address else "[vmware] host_ip unset"
            expect(answer == "200", f"vCenter {address}:{port} does not answer from the compute [DEFAULT] "
                   f"host={identity}", expected=f"HTTP 200 from https://{address}:{port}/sdk within {REACH_SECONDS} s "
                   "(the compute's TLS settings)", found=answer, where=where)
        # An active/standby pair must come up as the same service, or the standby registers a second
        # compute (and a second hypervisor) for the cluster when it takes over.
        expect(len(identities) == 1, f"the hosts of role {role} run nova-compute under different identities",
               expected="one [DEFAULT] host shared by the pair", found=sorted(identities), where=f"role {role}")
    record_property("supervision", "; ".join(supervision))
