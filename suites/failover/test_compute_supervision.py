"""FO-4: the VMware nova-compute runs under supervision, keeps one identity across an active/standby pair,
and reaches its vCenter from where it runs."""

from __future__ import annotations

import shlex

import pytest

from stackproof.findings import expect
from stackproof.hostconfig import is_true

pytestmark = [pytest.mark.failover]

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


def _vmware_driver(conf) -> bool:
    return conf.get("DEFAULT", "compute_driver", fallback="").strip().endswith("VMwareVCDriver")


@pytest.mark.control(
    "SP-FO-004",
    title="The VMware nova-compute is supervised, keeps its host identity and reaches vCenter",
    statement="If the nova-compute that fronts a vCenter cluster crashes, provisioning to that vCenter stops "
              "even with HA, so it must be monitored and brought back: it runs supervised, an active/standby "
              "pair shares one [DEFAULT] host, and the vCenter port answers from the compute.",
)
@pytest.mark.readonly
def test_vmware_compute_is_supervised_and_reaches_vcenter(hosts, target, vmware_computes, record_property) -> None:
    # Scope from the cloud: every nova-compute whose hypervisor is a vCenter cluster, found in the inventory by
    # the [DEFAULT] host of the nova.conf each host holds (an active/standby pair: several hosts, one name).
    names = sorted(s.host for s in vmware_computes.services)
    expect(bool(names), "no nova-compute fronts a vCenter cluster", expected="at least one VMware nova-compute",
           found="none", where="compute API os-services / os-hypervisors")
    claims = [item.name for item in hosts.serving("nova") if _vmware_driver(item.conf)]
    scope = hosts.scope(names, "nova", claims=claims)
    problems = scope.gaps("a VMware nova-compute")
    supervision = []
    for name, items in sorted(scope.covered.items()):
        running = []
        for item in items:
            where = f"{name} ({item.where})"
            if nova_compute_processes(item.host, item.config_path):
                running.append(item.host.backend.get_hostname())
            unit = target.hosts[item.role].units.get("nova-compute")
            if unit:
                service = item.host.service(unit)
                policy = restart_policy(item.host, unit)
                if not (service.is_running and service.is_enabled and policy in RESTART_POLICIES):
                    problems.append(f"{where}: unit {unit} does not supervise nova-compute (running="
                                    f"{service.is_running}, enabled={service.is_enabled}, Restart={policy or 'no'})")
                supervision.append(f"{item.host.backend.get_hostname()}: {unit} Restart={policy}")
            else:
                supervision.append(f"{item.host.backend.get_hostname()}: no unit declared")
            address = item.conf.get("vmware", "host_ip", fallback="")
            port = item.conf.getint("vmware", "host_port", fallback=443)
            answer = vcenter_answer(item.host, address, port, item.conf) if address else "[vmware] host_ip unset"
            if answer != "200":
                problems.append(f"{where}: vCenter {address}:{port} does not answer from the compute: {answer}")
        hosts_of = ", ".join(item.host.backend.get_hostname() for item in items)
        if not running:
            problems.append(f"{name} ({hosts_of}): no nova-compute process runs for [DEFAULT] host={name} "
                            "(no such process)")
        elif len(running) > 1:
            # An active/standby pair runs one at a time, or two computes spawn into one cluster.
            problems.append(f"{name}: nova-compute runs on {', '.join(running)} at once")
    record_property("supervision", "; ".join(supervision))
    expect(not problems, f"{len(problems)} VMware nova-compute problem(s)",
           expected=f"each VMware nova-compute the cloud lists ({', '.join(names)}) described by the inventory, "
                    f"running on one of its hosts, supervised where a unit is declared, and vCenter answering "
                    f"HTTP 200 within {REACH_SECONDS} s with the compute's TLS settings",
           found="; ".join(problems), where="compute API os-services / os-hypervisors; the compute hosts")
