"""Faults on processes: a service stopped or crashed inside its host, a second compute for one cluster."""

from __future__ import annotations

import time
from dataclasses import dataclass

from stackproof_lab import processes, services
from stackproof_lab.configs.ini import Overrides
from stackproof_lab.faults.base import Action, Lab
from stackproof_lab.rest import Cloud
from stackproof_lab.waiting import wait_for

# Nova's periodic resource update runs every update_resources_interval (lab: 10 s) plus the task's own
# time on a busy machine; three cycles and a margin.
CATCH_UP_TIMEOUT = 45


@dataclass(frozen=True)
class StopService(Action):
    """Stop a service cleanly; clear starts it again and waits until it is healthy."""

    service: str

    def inject(self, lab: Lab) -> str:
        return f"{self.service}: {services.stop(lab.layout, services.get(self.service))}"

    def clear(self, lab: Lab) -> str:
        return lab.start(self.service)

    def suppressed(self) -> tuple[str, ...]:
        return (self.service,)


@dataclass(frozen=True)
class KillService(Action):
    """SIGKILL a service's whole process group inside its host (a crash: no deregistration, no goodbye)."""

    service: str

    def inject(self, lab: Lab) -> str:
        record = processes.read_record(lab.layout.run, self.service)
        if record is None:
            return f"{self.service}: was not running"
        processes.kill_group(record)
        return f"{self.service}: pid {record.pid} on {services.get(self.service).host} killed with SIGKILL"

    def clear(self, lab: Lab) -> str:
        return lab.start(self.service)

    def suppressed(self) -> tuple[str, ...]:
        return (self.service,)


@dataclass(frozen=True)
class StrayService(Action):
    """Start a second nova service where the design has none: a nova-compute for a cluster another compute already
    fronts, a nova-scheduler on a host that is no controller (each with a copied nova.conf naming another host).
    Clear stops it and deletes its service record (a compute's takes its compute node with it), as an operator
    removing a stray service does."""

    service: str
    host: str
    binary: str = "nova-compute"

    def inject(self, lab: Lab) -> str:
        services.start(lab.layout, services.get(self.service))
        services.wait_healthy(lab.layout, services.get(self.service), timeout=120)
        return f"{self.service} on {services.get(self.service).host}: running and healthy"

    def clear(self, lab: Lab) -> str:
        note = f"{self.service}: {services.stop(lab.layout, services.get(self.service))}"
        cloud = lab.cloud()
        listed = cloud.call("compute", "GET", f"/os-services?binary={self.binary}&host={self.host}")["services"]
        for record in listed:
            if self.binary == "nova-compute":
                note += _give_nodes_a_provider(cloud, self.host)
            cloud.call("compute", "DELETE", f"/os-services/{record['id']}")
            note += f"; service record {record['id']} of {self.host} deleted"
        return note


def _give_nodes_a_provider(cloud: Cloud, host: str) -> str:
    """nova 34 answers a service delete with HTTP 500 (ValueError 'No such provider') when one of the service's
    compute nodes has no placement provider, which is exactly the twin's state: placement refused its provider,
    whose name vmware-1's already has. A stand-in provider under the node's UUID lets nova's delete go through,
    and nova deletes it with the node."""
    hypervisors = cloud.call("compute", "GET", "/os-hypervisors/detail")["hypervisors"]
    notes = []
    for hv in hypervisors:
        if (hv.get("service") or {}).get("host") != host:
            continue
        found = cloud.call("placement", "GET", f"/resource_providers?uuid={hv['id']}")["resource_providers"]
        if not found:
            cloud.call("placement", "POST", "/resource_providers",
                       {"uuid": hv["id"], "name": f"{host}-stray-node-{hv['id']}"})
            notes.append(f"stand-in provider for compute node {hv['id']}")
    return "".join(f"; {n}" for n in notes)


@dataclass(frozen=True)
class VolumeBackendsDown(Action):
    """`step` (which stops cinder-volume backends), returning once the block storage API shows `backends`
    down. Until then cinder's scheduler still sends volumes to them, and a volume sent to a stopped backend
    stays 'creating' (and then 'deleting') until the backend is back: the first check run after the inject
    would meet a half-made fault and leave volumes nobody can delete."""

    step: Action
    backends: tuple[str, ...]  # cinder-volume service hosts, host@backend

    def inject(self, lab: Lab) -> str:
        note = self.step.inject(lab)
        cloud = lab.cloud()

        def all_down() -> bool:
            listed = cloud.call("volume", "GET", "/os-services?binary=cinder-volume")["services"]
            found = {s["host"]: s["state"] for s in listed if s["host"] in self.backends}
            return len(found) == len(self.backends) and set(found.values()) == {"down"}

        began = time.monotonic()
        wait_for(all_down, timeout=CATCH_UP_TIMEOUT, interval=1,
                 what=f"the block storage API to show {', '.join(self.backends)} down")
        return f"{note}; the API shows {', '.join(self.backends)} down after {time.monotonic() - began:.0f}s"

    def clear(self, lab: Lab) -> str:
        return self.step.clear(lab)

    def overrides(self) -> Overrides:
        return self.step.overrides()

    def suppressed(self) -> tuple[str, ...]:
        return self.step.suppressed()
