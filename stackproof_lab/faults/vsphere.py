"""Faults of the VMware side: changes through the vSphere API, and a lab vCenter that is gone."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from stackproof_lab import services, topology
from stackproof_lab.errors import LabError
from stackproof_lab.faults.base import Action, Lab
from stackproof_lab.faults.processes import CATCH_UP_TIMEOUT
from stackproof_lab.layout import REPO, Layout
from stackproof_lab.vcenter import runtime as vcenter
from stackproof_lab.waiting import wait_for

VCENTER_CONTROL_TIMEOUT = 120  # one vSphere change through stackproof_lab/vcenter/control.py (~0.3 s measured)
# A VMware compute gives up on a lost vCenter after one cycle plus oslo.vmware's retry (~20 s measured).
VCENTER_LOSS_TIMEOUT = 90
# What nova's VMware driver writes on its own service when it loses vCenter (vmwareapi/host.py), and
# what SP-FO-006 looks for. A compute restarted later never lifts it: an operator enables the service.
HOST_STATE_REASON = "set by vmwareapi host_state"


def vcenter_running(lab: Lab) -> bool:
    # Whether a fault keeps the vCenter stopped, not a health probe: a probe with a short timeout failed on a
    # busy machine (a large NFC transfer under way), and a clear then skipped its undo and left the change in
    # place. A vCenter that should run but does not answer makes control.py fail, loudly.
    return "vcenter" not in lab.suppressed


def vcenter_control(layout: Layout, *args: str) -> dict[str, Any]:
    """Run one stackproof_lab/vcenter/control.py operation with the lab venv's Python (which has pyvmomi)."""
    argv = [str(layout.venv_bin / "python"), "-m", "stackproof_lab.vcenter.control", "--state-dir",
            str(layout.state), *args]
    env = {**services.base_env(layout), **services.vcenter_env(layout)}
    try:
        # cwd = the repository, so that `-m stackproof_lab.vcenter.control` imports this very lab package.
        result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=VCENTER_CONTROL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise LabError(
            f"gave up after {VCENTER_CONTROL_TIMEOUT}s waiting for the lab vCenter to {' '.join(args)}") from None
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
        raise LabError(lines[-1])
    return json.loads(result.stdout)


@dataclass(frozen=True)
class VSphereChange(Action):
    """A change made through the vSphere API (stackproof_lab/vcenter/control.py), undone the same way.

    Inject and clear return once nova has caught up: the VMware compute fronting the cluster reports
    the cluster's capacity (summed over usable hosts) to placement in its periodic resource update,
    so a check run right after sees one consistent state, not a lag between vCenter and nova.
    While the lab vCenter is stopped (vcenter-stopped) the change is only recorded: the vCenter starts
    from its baseline inventory, and the change is made then (after_vcenter_start).
    """

    inject_args: tuple[str, ...]
    clear_args: tuple[str, ...]

    def inject(self, lab: Lab) -> str:
        return self._change(lab, self.inject_args, settle=True)

    def clear(self, lab: Lab) -> str:
        if not vcenter_running(lab):
            return "nothing to undo: the lab vCenter starts from its baseline inventory"
        return self._change(lab, self.clear_args, settle=True)

    def after_vcenter_start(self, lab: Lab) -> str:
        # The computes start after the vCenter and read its state then: nothing to wait for.
        return self._change(lab, self.inject_args, settle=False)

    def _change(self, lab: Lab, args: tuple[str, ...], *, settle: bool) -> str:
        if not vcenter_running(lab):
            return "recorded; made when the lab vCenter runs again"
        result = vcenter_control(lab.layout, *args)
        capacity = result.pop("capacity")
        note = json.dumps(result, sort_keys=True)
        if settle:
            note += _wait_for_nova_capacity(lab, result["cluster"], capacity)
        return note


def _wait_for_nova_capacity(lab: Lab, cluster: str, capacity: dict[str, Any]) -> str:
    """Wait until placement shows the capacity nova's VMware driver reports for ``cluster``."""
    host = next((h for h, c in topology.VMWARE_COMPUTES.items() if c == cluster), None)
    if host is None or services.health(lab.layout, services.get(f"nova-compute-{host}")) != "up":
        return ""  # no running compute fronts it: nothing will report
    cloud = lab.cloud()
    provider = f"{capacity['moid']}.{vcenter.INSTANCE_UUID}"
    wanted = {"VCPU": capacity["vcpus"], "MEMORY_MB": capacity["memory_mb"]}

    def reported() -> bool:
        found = cloud.call("placement", "GET", f"/resource_providers?name={provider}")["resource_providers"]
        if not found:
            raise LabError(f"placement has no resource provider {provider} for {host}")
        inventory = cloud.call("placement", "GET", f"/resource_providers/{found[0]['uuid']}/inventories")
        return all(inventory["inventories"].get(rc, {}).get("total") == total for rc, total in wanted.items())

    began = time.monotonic()
    wait_for(reported, timeout=CATCH_UP_TIMEOUT, interval=1,
             what=f"nova-compute-{host} to report {cluster}'s usable capacity {wanted} to placement ({provider})")
    return f"; nova reports {wanted} after {time.monotonic() - began:.0f}s"


def vmware_services(lab: Lab) -> dict[str, dict[str, Any]]:
    listed = lab.cloud().call("compute", "GET", "/os-services?binary=nova-compute")["services"]
    return {s["host"]: s for s in listed if s["host"] in topology.VMWARE_COMPUTES}


def enable_vmware_services(lab: Lab) -> list[str]:
    """Enable the VMware computes' services their driver disabled when it lost vCenter, as an operator
    does once vCenter is back (a restarted compute never lifts it itself); returns notes."""
    cloud = lab.cloud()
    notes = []
    for host, service in sorted(vmware_services(lab).items()):
        if service["status"] == "disabled" and service["disabled_reason"] == HOST_STATE_REASON:
            cloud.call("compute", "PUT", f"/os-services/{service['id']}", {"status": "enabled"})
            notes.append(f"{host}: service enabled again")
    return notes


def wait_vmware_disabled(lab: Lab, hosts: list[str]) -> str:
    """Wait until nova's VMware driver on ``hosts`` disabled its service (it lost its vCenter)."""
    def all_disabled() -> bool:
        found = vmware_services(lab)
        return all(found[h]["status"] == "disabled" and found[h]["disabled_reason"] == HOST_STATE_REASON
                   for h in hosts)

    began = time.monotonic()
    wait_for(all_disabled, timeout=VCENTER_LOSS_TIMEOUT, interval=1,
             what=f"nova's VMware driver on {', '.join(hosts)} to disable its service ({HOST_STATE_REASON!r})")
    return f"{', '.join(hosts)} disabled {HOST_STATE_REASON!r} after {time.monotonic() - began:.0f}s"


@dataclass(frozen=True)
class StopVCenter(Action):
    """Stop the lab vCenter: the VMware computes keep running and, within a resource update cycle,
    disable their own services ('set by vmwareapi host_state'); inject returns once they have.

    Clear brings the vCenter back through the lab's runner: it starts (baseline inventory, active vSphere
    faults made again), its clients restart (a nova-compute keeps folder references from its start, which a
    new vCenter process does not know; cinder's VMDK backend caches its folders too, or never initialised
    if it started while the vCenter was away), and the services the driver disabled are enabled again, as
    an operator would.
    """

    def inject(self, lab: Lab) -> str:
        note = f"vcenter: {services.stop(lab.layout, services.get('vcenter'))}"
        running = [h for h in topology.VMWARE_COMPUTES
                   if services.health(lab.layout, services.get(f"nova-compute-{h}")) == "up"]
        if not running:
            return note
        return f"{note}; {wait_vmware_disabled(lab, running)}"

    def clear(self, lab: Lab) -> str:
        lab.converge(["vcenter-ready", *services.VCENTER_CLIENTS, "vmware-services-enabled"], vcenter_restarted=True)
        return "vcenter started, its clients restarted, the VMware services enabled"

    def suppressed(self) -> tuple[str, ...]:
        return ("vcenter",)
