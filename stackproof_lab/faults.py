"""Faults the lab can inject and clear: each one is what a check exists to catch.

The registry is data: a fault is a name, a description, the control IDs expected to catch it
(``SP-<AREA>-<NNN>``, NNN = the check's number in design/checks.md) and one action. Actions know how to
inject and how to restore; adding a fault is adding one entry to FAULTS. Active faults are recorded in
``<state>/faults.json``; inject and clear are idempotent, and ``up`` keeps active faults in force
(config overrides stay rendered, stopped services stay stopped, and vSphere changes are made again
whenever the lab vCenter starts, since it starts from its baseline inventory).
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stackproof_lab import config, data_network, processes, services
from stackproof_lab.errors import LabError
from stackproof_lab.layout import HOST, REPO, Layout
from stackproof_lab.vcenter import build as vcenter_build
from stackproof_lab.waiting import wait_for

RESTART_TIMEOUT = 120
VCENTER_CONTROL_TIMEOUT = 120  # one vSphere change through stackproof_lab/vcenter/control.py (~0.3 s measured)
# Nova's periodic resource update runs every update_resources_interval (lab: 10 s) plus the task's own
# time on a busy machine; three cycles and a margin.
NOVA_CATCH_UP_TIMEOUT = 3 * config.UPDATE_RESOURCES_INTERVAL + 15
# A VMware compute gives up on a lost vCenter after one cycle plus oslo.vmware's retry (~20 s measured).
VCENTER_LOSS_TIMEOUT = 90


class Action:
    """How a fault changes the lab. Subclasses override inject/clear; the rest are hints for ``up``."""

    def inject(self, layout: Layout) -> str:
        raise NotImplementedError

    def clear(self, layout: Layout) -> str:
        raise NotImplementedError

    def overrides(self) -> config.Overrides:
        return {}

    def suppressed(self) -> tuple[str, ...]:
        return ()

    def after_vcenter_start(self, layout: Layout) -> str:
        """Make the fault true again in a lab vCenter that just started from its baseline inventory."""
        return ""

    def data_nic(self) -> data_network.NicState:
        """How the fault wants the data NIC (``up`` makes it so); empty: as designed."""
        return {}


@dataclass(frozen=True)
class StopService(Action):
    """Stop a service cleanly; clear starts it again and waits until it is healthy."""

    service: str

    def inject(self, layout: Layout) -> str:
        return f"{self.service}: {services.stop(layout, services.get(self.service))}"

    def clear(self, layout: Layout) -> str:
        return _start_and_wait(layout, self.service)

    def suppressed(self) -> tuple[str, ...]:
        return (self.service,)


@dataclass(frozen=True)
class KillService(Action):
    """SIGKILL a service's whole process group (a crash: no deregistration, no goodbye)."""

    service: str

    def inject(self, layout: Layout) -> str:
        record = processes.read_record(layout.run, self.service)
        if record is None:
            return f"{self.service}: was not running"
        processes.kill_group(record)
        return f"{self.service}: pid {record.pid} killed with SIGKILL"

    def clear(self, layout: Layout) -> str:
        return _start_and_wait(layout, self.service)

    def suppressed(self) -> tuple[str, ...]:
        return (self.service,)


@dataclass(frozen=True)
class TwinCompute(Action):
    """Start a second nova-compute for a cluster another compute already fronts (a copied nova.conf with
    another host name). Clear stops it and deletes its service record, which takes its compute node with
    it, as an operator removing a stray compute does."""

    service: str
    host: str

    def inject(self, layout: Layout) -> str:
        return _start_and_wait(layout, self.service)

    def clear(self, layout: Layout) -> str:
        from stackproof_lab import provision

        note = f"{self.service}: {services.stop(layout, services.get(self.service))}"
        cloud = provision.admin(layout)
        listed = cloud.call("compute", "GET", f"/os-services?binary=nova-compute&host={self.host}")["services"]
        for record in listed:
            note += _give_nodes_a_provider(cloud, self.host)
            cloud.call("compute", "DELETE", f"/os-services/{record['id']}")
            note += f"; service record {record['id']} of {self.host} deleted"
        return note


def _give_nodes_a_provider(cloud, host: str) -> str:
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

    def inject(self, layout: Layout) -> str:
        note = self.step.inject(layout)
        return note + _wait_volume_services_down(layout, self.backends)

    def clear(self, layout: Layout) -> str:
        return self.step.clear(layout)

    def overrides(self) -> config.Overrides:
        return self.step.overrides()

    def suppressed(self) -> tuple[str, ...]:
        return self.step.suppressed()


def _wait_volume_services_down(layout: Layout, backends: tuple[str, ...]) -> str:
    from stackproof_lab import provision

    cloud = provision.admin(layout)

    def all_down() -> bool:
        listed = cloud.call("volume", "GET", "/os-services?binary=cinder-volume")["services"]
        found = {s["host"]: s["state"] for s in listed if s["host"] in backends}
        return len(found) == len(backends) and set(found.values()) == {"down"}

    began = time.monotonic()
    wait_for(all_down, timeout=NOVA_CATCH_UP_TIMEOUT, interval=1,
             what=f"the block storage API to show {', '.join(backends)} down")
    return f"; the API shows {', '.join(backends)} down after {time.monotonic() - began:.0f}s"


@dataclass(frozen=True)
class ConfigOption(Action):
    """Change (value) or remove (value None) one option in one config file, restart its readers."""

    config_id: str
    section: str
    option: str
    value: object
    restart: tuple[str, ...]

    def overrides(self) -> config.Overrides:
        return {self.config_id: {self.section: {self.option: self.value}}}

    def inject(self, layout: Layout) -> str:
        return self._apply(layout)

    def clear(self, layout: Layout) -> str:
        return self._apply(layout)

    def _apply(self, layout: Layout) -> str:
        # The fault state was updated before this call, so rendering reflects inject or clear.
        config.write_all(layout, config_overrides(layout))
        path = config.config_paths(layout)[self.config_id]
        notes = [f"{path}: [{self.section}] {self.option}"]
        for name in self.restart:
            service = services.get(name)
            if name in suppressed_services(layout):
                continue
            services.stop(layout, service)
            notes.append(_start_and_wait(layout, name))
        return "; ".join(notes)


@dataclass(frozen=True)
class RenameAggregateKey(Action):
    """Rename an aggregate metadata key through the compute API, keeping its value."""

    aggregate: str
    key: str
    renamed: str

    def inject(self, layout: Layout) -> str:
        return self._move(layout, self.key, self.renamed)

    def clear(self, layout: Layout) -> str:
        return self._move(layout, self.renamed, self.key)

    def _move(self, layout: Layout, old: str, new: str) -> str:
        from stackproof_lab import provision

        cloud = provision.admin(layout)
        aggregates = cloud.call("compute", "GET", "/os-aggregates")["aggregates"]
        aggregate = next((a for a in aggregates if a["name"] == self.aggregate), None)
        if aggregate is None:
            raise LabError(f"aggregate {self.aggregate!r} does not exist; is the lab provisioned?")
        metadata = aggregate.get("metadata", {})
        if old not in metadata:
            return f"aggregate {self.aggregate}: no key {old} (already moved)"
        cloud.call(
            "compute",
            "POST",
            f"/os-aggregates/{aggregate['id']}/action",
            {"set_metadata": {"metadata": {old: None, new: metadata[old]}}},
        )
        return f"aggregate {self.aggregate}: {old}={metadata[old]} renamed to {new}"


def _vcenter_running(layout: Layout) -> bool:
    # Whether a fault keeps the vCenter stopped, not a health probe: a probe with a short timeout failed on a
    # busy machine (a large NFC transfer under way), and a clear then skipped its undo and left the change in
    # place. A vCenter that should run but does not answer makes control.py fail, loudly.
    return "vcenter" not in suppressed_services(layout)


def vcenter_control(layout: Layout, *args: str) -> dict[str, Any]:
    """Run one stackproof_lab/vcenter/control.py operation with the lab venv's Python (which has pyvmomi)."""
    argv = [str(layout.venv_bin / "python"), "-m", "stackproof_lab.vcenter.control", "--state-dir",
            str(layout.state), *args]
    env = {**services.base_env(layout), **services.vcenter_env(layout)}
    try:
        # cwd = the repository, so that `-m stackproof_lab.vcenter.control` imports this very lab package.
        result = subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=VCENTER_CONTROL_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise LabError(
            f"gave up after {VCENTER_CONTROL_TIMEOUT}s waiting for the lab vCenter to {' '.join(args)}"
        ) from None
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

    def inject(self, layout: Layout) -> str:
        return self._change(layout, self.inject_args, settle=True)

    def clear(self, layout: Layout) -> str:
        if not _vcenter_running(layout):
            return "nothing to undo: the lab vCenter starts from its baseline inventory"
        return self._change(layout, self.clear_args, settle=True)

    def after_vcenter_start(self, layout: Layout) -> str:
        # The computes start after the vCenter and read its state then: nothing to wait for.
        return self._change(layout, self.inject_args, settle=False)

    def _change(self, layout: Layout, args: tuple[str, ...], *, settle: bool) -> str:
        if not _vcenter_running(layout):
            return "recorded; made when the lab vCenter runs again"
        result = vcenter_control(layout, *args)
        capacity = result.pop("capacity")
        note = json.dumps(result, sort_keys=True)
        if settle:
            note += _wait_for_nova_capacity(layout, result["cluster"], capacity)
        return note


def _wait_for_nova_capacity(layout: Layout, cluster: str, capacity: dict[str, Any]) -> str:
    """Wait until placement shows the capacity nova's VMware driver reports for ``cluster``."""
    from stackproof_lab import provision

    host = next((h for h, c in config.VMWARE_COMPUTES.items() if c == cluster), None)
    if host is None or services.health(layout, services.get(f"nova-compute-{host}")) != "up":
        return ""  # no running compute fronts it: nothing will report
    cloud = provision.admin(layout)
    provider = f"{capacity['moid']}.{vcenter_build.INSTANCE_UUID}"
    wanted = {"VCPU": capacity["vcpus"], "MEMORY_MB": capacity["memory_mb"]}

    def reported() -> bool:
        found = cloud.call("placement", "GET", f"/resource_providers?name={provider}")["resource_providers"]
        if not found:
            raise LabError(f"placement has no resource provider {provider} for {host}")
        inventory = cloud.call("placement", "GET", f"/resource_providers/{found[0]['uuid']}/inventories")
        return all(inventory["inventories"].get(rc, {}).get("total") == total for rc, total in wanted.items())

    began = time.monotonic()
    wait_for(
        reported,
        timeout=NOVA_CATCH_UP_TIMEOUT,
        interval=1,
        what=f"nova-compute-{host} to report {cluster}'s usable capacity {wanted} to placement ({provider})",
    )
    return f"; nova reports {wanted} after {time.monotonic() - began:.0f}s"


# What nova's VMware driver writes on its own service when it loses vCenter (vmwareapi/host.py), and
# what SP-FO-006 looks for. A compute restarted later never lifts it: an operator enables the service.
HOST_STATE_REASON = "set by vmwareapi host_state"


def _vmware_services(layout: Layout) -> dict[str, dict[str, Any]]:
    from stackproof_lab import provision

    listed = provision.admin(layout).call("compute", "GET", "/os-services?binary=nova-compute")["services"]
    return {s["host"]: s for s in listed if s["host"] in config.VMWARE_COMPUTES}


def enable_vmware_services(layout: Layout) -> list[str]:
    """Enable the VMware computes' services their driver disabled when it lost vCenter, as an operator
    does once vCenter is back (a restarted compute never lifts it itself); returns notes."""
    from stackproof_lab import provision

    cloud = provision.admin(layout)
    notes = []
    for host, service in sorted(_vmware_services(layout).items()):
        if service["status"] == "disabled" and service["disabled_reason"] == HOST_STATE_REASON:
            cloud.call("compute", "PUT", f"/os-services/{service['id']}", {"status": "enabled"})
            notes.append(f"{host}: service enabled again")
    return notes


@dataclass(frozen=True)
class StopVCenter(Action):
    """Stop the lab vCenter: the VMware computes keep running and, within a resource update cycle,
    disable their own services ('set by vmwareapi host_state'); inject returns once they have.

    Clear starts the vCenter (baseline inventory, active vSphere faults made again), restarts its
    clients (a nova-compute keeps folder references from its start, which a new vCenter process does
    not know; cinder's VMDK backend caches its folders too, or never initialised if it started while
    the vCenter was away), and enables the services the driver disabled, as an operator would.
    """

    clients: tuple[str, ...]

    def inject(self, layout: Layout) -> str:
        note = f"vcenter: {services.stop(layout, services.get('vcenter'))}"
        running = [
            h for h in config.VMWARE_COMPUTES if services.health(layout, services.get(f"nova-compute-{h}")) == "up"
        ]
        if not running:
            return note

        def all_disabled() -> bool:
            found = _vmware_services(layout)
            return all(
                found[h]["status"] == "disabled" and found[h]["disabled_reason"] == HOST_STATE_REASON for h in running
            )

        began = time.monotonic()
        wait_for(
            all_disabled,
            timeout=VCENTER_LOSS_TIMEOUT,
            interval=1,
            what=f"nova's VMware driver on {', '.join(running)} to disable its service ({HOST_STATE_REASON!r})",
        )
        return f"{note}; {', '.join(running)} disabled {HOST_STATE_REASON!r} after {time.monotonic() - began:.0f}s"

    def clear(self, layout: Layout) -> str:
        notes = [_start_and_wait(layout, "vcenter"), *reassert_vcenter_faults(layout)]
        blocked = suppressed_services(layout)
        restart = [name for name in self.clients if name not in blocked]

        def restart_one(name: str) -> str:
            services.stop(layout, services.get(name))
            return _start_and_wait(layout, name)

        with ThreadPoolExecutor(max_workers=len(restart) or 1) as pool:
            notes += list(pool.map(restart_one, restart))
        notes += enable_vmware_services(layout)
        return "; ".join(notes)

    def suppressed(self) -> tuple[str, ...]:
        return ("vcenter",)


def _aggregate(cloud, name: str) -> dict[str, Any]:
    aggregates = cloud.call("compute", "GET", "/os-aggregates")["aggregates"]
    aggregate = next((a for a in aggregates if a["name"] == name), None)
    if aggregate is None:
        raise LabError(f"aggregate {name!r} does not exist; is the lab provisioned?")
    return aggregate


@dataclass(frozen=True)
class AggregateHost(Action):
    """Add a host to an aggregate it does not belong in (an operator's slip); clear takes it out again."""

    aggregate: str
    host: str

    def inject(self, layout: Layout) -> str:
        return self._move(layout, "add_host", present=False)

    def clear(self, layout: Layout) -> str:
        return self._move(layout, "remove_host", present=True)

    def _move(self, layout: Layout, action: str, present: bool) -> str:
        from stackproof_lab import provision

        cloud = provision.admin(layout)
        aggregate = _aggregate(cloud, self.aggregate)
        if (self.host in aggregate.get("hosts", [])) != present:
            return f"aggregate {self.aggregate}: {self.host} already {'out' if present else 'in'}"
        cloud.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action", {action: {"host": self.host}})
        return f"aggregate {self.aggregate}: {action} {self.host}"


@dataclass(frozen=True)
class ImageProperty(Action):
    """Set (value) or strip (value None) one property of a lab image; clear restores the provisioned value."""

    image: str
    key: str
    value: str | None
    provisioned: str | None

    def inject(self, layout: Layout) -> str:
        return self._set(layout, self.value)

    def clear(self, layout: Layout) -> str:
        return self._set(layout, self.provisioned)

    def _set(self, layout: Layout, value: str | None) -> str:
        from stackproof_lab import provision

        cloud = provision.admin(layout)
        images = cloud.call("image", "GET", f"/images?name={self.image}")["images"]
        if not images:
            raise LabError(f"image {self.image!r} does not exist; is the lab provisioned?")
        image = images[0]
        if image.get(self.key) == value:
            return f"image {self.image}: {self.key} already {value}"
        if value is None:
            patch = [{"op": "remove", "path": f"/{self.key}"}]
        else:
            patch = [{"op": "add", "path": f"/{self.key}", "value": value}]
        cloud.call("image", "PATCH", f"/images/{image['id']}", patch)
        return f"image {self.image}: {self.key}={value}"


@dataclass(frozen=True)
class AggregateMetadata(Action):
    """Set one metadata key of a lab aggregate; clear removes it (the provisioned aggregate has no such key)."""

    aggregate: str
    key: str
    value: str

    def inject(self, layout: Layout) -> str:
        return self._set(layout, self.value)

    def clear(self, layout: Layout) -> str:
        return self._set(layout, None)

    def _set(self, layout: Layout, value: str | None) -> str:
        from stackproof_lab import provision

        cloud = provision.admin(layout)
        aggregate = _aggregate(cloud, self.aggregate)
        if aggregate.get("metadata", {}).get(self.key) == value:
            return f"aggregate {self.aggregate}: {self.key} already {value}"
        cloud.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action",
                   {"set_metadata": {"metadata": {self.key: value}}})
        return f"aggregate {self.aggregate}: {self.key}={value}"


@dataclass(frozen=True)
class Together(Action):
    """Several changes that only together make the fault (each alone is caught elsewhere, or harmless):
    injected in order, cleared in reverse order."""

    steps: tuple[Action, ...]

    def inject(self, layout: Layout) -> str:
        return "; ".join(step.inject(layout) for step in self.steps)

    def clear(self, layout: Layout) -> str:
        return "; ".join(step.clear(layout) for step in reversed(self.steps))

    def overrides(self) -> config.Overrides:
        merged: config.Overrides = {}
        for step in self.steps:
            for cid, sections in step.overrides().items():
                for section, options in sections.items():
                    merged.setdefault(cid, {}).setdefault(section, {}).update(options)
        return merged

    def suppressed(self) -> tuple[str, ...]:
        return tuple(name for step in self.steps for name in step.suppressed())

    def after_vcenter_start(self, layout: Layout) -> str:
        return "; ".join(note for step in self.steps if (note := step.after_vcenter_start(layout)))


@dataclass(frozen=True)
class DataNicChange(Action):
    """Put the compute hosts' data NIC in another state (down, another MTU); clear makes it as designed."""

    state: data_network.NicState

    def inject(self, layout: Layout) -> str:
        return data_network.ensure(data_nic_overrides(layout))

    def clear(self, layout: Layout) -> str:
        return data_network.ensure(data_nic_overrides(layout))

    def data_nic(self) -> data_network.NicState:
        return self.state


@dataclass(frozen=True)
class VolumeTypeSpec(Action):
    """Set one extra spec of a lab volume type through the block storage API; clear restores the provisioned
    value."""

    volume_type: str
    key: str
    value: str
    provisioned: str

    def inject(self, layout: Layout) -> str:
        return self._set(layout, self.value)

    def clear(self, layout: Layout) -> str:
        return self._set(layout, self.provisioned)

    def _set(self, layout: Layout, value: str) -> str:
        from stackproof_lab import provision

        cloud = provision.admin(layout)
        types = cloud.call("volume", "GET", "/types?is_public=None")["volume_types"]
        found = next((t for t in types if t["name"] == self.volume_type), None)
        if found is None:
            raise LabError(f"volume type {self.volume_type!r} does not exist; is the lab provisioned?")
        if found.get("extra_specs", {}).get(self.key) == value:
            return f"volume type {self.volume_type}: {self.key} already {value}"
        try:
            cloud.call("volume", "POST", f"/types/{found['id']}/extra_specs", {"extra_specs": {self.key: value}})
        except LabError as exc:
            if "currently in use" not in str(exc):
                raise
            # Cinder refuses extra spec changes while any volume of the type exists (a leftover, or one a
            # check made under the fault): the row is changed where cinder-api reads it from, so that inject
            # and above all clear work whatever volumes exist.
            services.sql(layout, "UPDATE cinder.volume_type_extra_specs SET value = '{}', updated_at = "
                         "UTC_TIMESTAMP() WHERE volume_type_id = '{}' AND `key` = '{}' AND deleted = 0"
                         .format(value, found["id"], self.key))
            return f"volume type {self.volume_type}: {self.key}={value} (in use: set in cinder's database)"
        return f"volume type {self.volume_type}: {self.key}={value}"


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    controls: tuple[str, ...]
    action: Action


_FILTERS_WITHOUT_ISOLATION = ",".join(f for f in config.SCHEDULER_FILTERS if f != "AggregateImagePropertiesIsolation")
_CLUSTER_1 = config.VMWARE_COMPUTES["vmware-1"]
_VOLUME_BACKENDS = tuple(f"{config.CINDER_HOST}@{b}" for b in (config.CINDER_BACKEND, config.VMDK_BACKEND))
_DATASTORE_1 = "sp-vmfs-1"  # the lab vCenter's shared VMFS datastore of sp-cluster-1
# A trait every VMware provider already carries, so isolating by it needs no provider change.
_VMWARE_TRAIT = "trait:COMPUTE_IMAGE_TYPE_VMDK"

FAULTS: list[Fault] = [
    Fault(
        "cinder-volume-stopped",
        f"cinder-volume is stopped (both backends, {config.CINDER_BACKEND} and {config.VMDK_BACKEND}): "
        "they report down, volumes cannot be created",
        # BLK-1 sees both down; every workload check needs a new volume.
        ("SP-BLK-001", "SP-BLK-006", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009"),
        VolumeBackendsDown(StopService("cinder-volume"), _VOLUME_BACKENDS),
    ),
    Fault(
        "vmdk-backend-stopped",
        f"cinder-volume no longer runs the VMware backend {config.VMDK_BACKEND} (taken out of enabled_backends; "
        f"{config.CINDER_BACKEND} runs on): its service record stays and reports down, VMDK volumes cannot be made",
        # BLK-1 sees it down; the checks that need a VMDK volume (VMware attach, VMDK on KVM, VMware boot from
        # volume) cannot get one.
        ("SP-BLK-001", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009"),
        VolumeBackendsDown(
            ConfigOption("cinder", "DEFAULT", "enabled_backends", config.CINDER_BACKEND, restart=("cinder-volume",)),
            (f"{config.CINDER_HOST}@{config.VMDK_BACKEND}",),
        ),
    ),
    Fault(
        "vmdk-type-on-kvm-backend",
        f"volume type vmdk-thin's volume_backend_name names the KVM backend {config.CINDER_BACKEND}: VMDK volumes "
        "are made as NFS files that a VMware server cannot attach",
        # BLK-2 reads the misrouting; a vmdk-thin volume is then an NFS file: a VMware server cannot attach it
        # (BLK-7) nor boot from it (BLK-9), and a KVM server can (BLK-8).
        ("SP-BLK-002", "SP-BLK-007", "SP-BLK-008", "SP-BLK-009"),
        VolumeTypeSpec("vmdk-thin", "volume_backend_name", config.CINDER_BACKEND, provisioned=config.VMDK_BACKEND),
    ),
    Fault(
        "data-nic-down",
        f"the compute hosts' data NIC {data_network.NIC} is down: the storage route falls back to another NIC",
        ("SP-BLK-005",),
        DataNicChange({"up": False}),
    ),
    Fault(
        "data-nic-mtu-1500",
        f"the compute hosts' data NIC {data_network.NIC} has MTU 1500 instead of the designed {data_network.MTU}",
        ("SP-BLK-005",),
        DataNicChange({"mtu": 1500}),
    ),
    Fault(
        "cinder-vcenter-address-differs",
        f"cinder's {config.VMDK_BACKEND} backend reaches vCenter as 'localhost' while nova uses {HOST}: the same "
        "simulator today (its certificate names both), but nothing ties cinder's vCenter to nova's any more",
        ("SP-BLK-003",),
        ConfigOption("cinder", config.VMDK_BACKEND, "vmware_host_ip", "localhost", restart=("cinder-volume",)),
    ),
    Fault(
        "kvm-1-killed",
        "nova-compute on kvm-1 is killed with SIGKILL (a crash); clear restarts it",
        ("SP-FO-001",),
        KillService("nova-compute-kvm-1"),
    ),
    Fault(
        "kvm-aggregate-key-ignored",
        "aggregate kvm's metadata key img_hv_type is renamed to hypervisor_type, which "
        "AggregateImagePropertiesIsolation silently skips: isolation is off and nothing says so",
        ("SP-AGG-003",),
        RenameAggregateKey("kvm", "img_hv_type", "hypervisor_type"),
    ),
    Fault(
        "isolation-filter-removed",
        "AggregateImagePropertiesIsolation is dropped from the scheduler's [filter_scheduler] enabled_filters",
        ("SP-AGG-001",),
        ConfigOption(
            "nova", "filter_scheduler", "enabled_filters", _FILTERS_WITHOUT_ISOLATION, restart=("nova-scheduler",)
        ),
    ),
    Fault(
        "placement-image-type-query-off",
        "[scheduler] query_placement_for_image_type_support is off: placement no longer pre-filters "
        "hosts by the image's disk format",
        ("SP-AGG-001",),
        ConfigOption("nova", "scheduler", "query_placement_for_image_type_support", False, restart=("nova-scheduler",)),
    ),
    Fault(
        "report-interval-too-long",
        f"kvm-1's report_interval is 15 s, longer than service_down_time ({config.SERVICE_DOWN_TIME} s): "
        "nova then silently stretches service_down_time and the compute flaps",
        ("SP-FO-003",),
        ConfigOption("nova-kvm-1", "DEFAULT", "report_interval", 15, restart=("nova-compute-kvm-1",)),
    ),
    Fault(
        "vmware-1-killed",
        f"nova-compute on vmware-1 (fronting {_CLUSTER_1}) is killed with SIGKILL: provisioning to that "
        "cluster stops although vCenter and its VMs are fine; clear restarts it",
        # FO-4 finds no process. SP-FO-007 kills this compute itself: a proof of it needs a compute that is
        # up to begin with (service-down-time-stretched).
        ("SP-FO-001", "SP-FO-004"),
        KillService("nova-compute-vmware-1"),
    ),
    Fault(
        "service-down-time-stretched",
        f"the controller's service_down_time is 40 s instead of the designed {config.SERVICE_DOWN_TIME} s: the API "
        "and the scheduler see a crashed compute only after 40 s, so provisioning to a lost cluster keeps failing "
        "late instead of being refused",
        # FO-3 reads the setting; FO-7 measures the detection it slows down, beyond the designed bound.
        ("SP-FO-003", "SP-FO-007"),
        ConfigOption("nova", "DEFAULT", "service_down_time", 40, restart=("nova-api", "nova-scheduler")),
    ),
    Fault(
        "vmware-1-vcenter-unreachable",
        "the network path from vmware-1 to the lab vCenter is cut (its link, vcenter_link.py, is stopped): "
        "the vCenter and every other client carry on; vmware-1's driver cannot reach it and disables its "
        f"service ({HOST_STATE_REASON!r}); clear restores the path and nova enables the service by itself",
        # FO-1 sees the service disabled, FO-6 the signature, FO-4 the vCenter port unreachable from vmware-1.
        ("SP-FO-001", "SP-FO-004", "SP-FO-006"),
        StopService("vcenter-link-vmware-1"),
    ),
    Fault(
        "vmware-cluster-fronted-twice",
        f"a second nova-compute ({config.TWIN_COMPUTE}) is configured for {_CLUSTER_1}, which vmware-1 already "
        "fronts: two hypervisors with one name, a placement provider that cannot be created, and two computes "
        "spawning into one cluster; clear stops it and deletes its service record",
        # FO-5 finds the hypervisor name twice and the cluster fronted by two services; FO-2 finds the twin's
        # hypervisor without a placement provider (its name is vmware-1's, so placement refuses it).
        ("SP-FO-002", "SP-FO-005"),
        TwinCompute(f"nova-compute-{config.TWIN_COMPUTE}", config.TWIN_COMPUTE),
    ),
    Fault(
        "vcenter-stopped",
        "the lab vCenter is stopped: the VMware computes keep running, cannot reach it and disable their "
        f"services ({HOST_STATE_REASON!r}); clear starts it, restarts the VMware computes and cinder-volume "
        "(they hold references into the old vCenter) and enables the services again",
        # FO-6 looks for exactly this signature; FO-1 sees the services disabled; FO-4 gets no answer from
        # vCenter on the compute; FO-2, AGG-11 and AGG-12 cannot read the vCenter they verify; AGG-6 cannot
        # boot onto VMware, and AGG-8, AGG-9 and AGG-10 find no VMware host or server to try their case on.
        ("SP-FO-001", "SP-FO-002", "SP-FO-004", "SP-FO-006", "SP-AGG-006", "SP-AGG-008", "SP-AGG-009",
         "SP-AGG-010", "SP-AGG-011", "SP-AGG-012"),
        StopVCenter(clients=services.VCENTER_CLIENTS),
    ),
    Fault(
        "drs-partially-automated",
        f"DRS on {_CLUSTER_1} is set to partiallyAutomated (ReconfigureComputeResource_Task): vCenter no "
        "longer moves VMs by itself, so maintenance and balancing wait for an operator",
        ("SP-AGG-011",),
        VSphereChange(("drs", _CLUSTER_1, "partiallyAutomated"), ("drs", _CLUSTER_1, "fullyAutomated")),
    ),
    Fault(
        "datastore-unshared",
        f"datastore {_DATASTORE_1} is unmounted from one host of {_CLUSTER_1} (UnmountVmfsVolume): not shared "
        "by every host any more, so vMotion and DRS cannot use that host for its VMs",
        ("SP-AGG-012", "SP-BLK-004"),
        VSphereChange(
            ("datastore", _CLUSTER_1, _DATASTORE_1, "unmount"), ("datastore", _CLUSTER_1, _DATASTORE_1, "mount")
        ),
    ),
    Fault(
        "host-in-maintenance",
        f"one host of {_CLUSTER_1} enters maintenance mode (EnterMaintenanceMode_Task): it takes no VMs",
        ("SP-AGG-011",),
        VSphereChange(("maintenance", _CLUSTER_1, "enter"), ("maintenance", _CLUSTER_1, "exit")),
    ),
    Fault(
        "vmware-aggregate-has-kvm-host",
        "kvm-1 is added to the vmware aggregate as well: a KVM host now sits in both aggregates and takes the "
        "vmware aggregate's images",
        ("SP-AGG-002", "SP-AGG-005"),
        AggregateHost("vmware", "kvm-1"),
    ),
    Fault(
        "vmdk-image-untagged",
        "the lab's VMDK image loses its hypervisor_type property: nothing ties it to the VMware aggregate",
        ("SP-AGG-004",),
        ImageProperty("sp-vmware-sparse-vmdk", "hypervisor_type", None, provisioned="vmware"),
    ),
    Fault(
        "image-invalid-hypervisor-type",
        "the lab's qcow2 image says hypervisor_type=esxi, a value nova rejects (ValueError at boot)",
        # AGG-4 reads the bad value; AGG-7, AGG-8 and AGG-10 find nova refusing the cloud's only qcow2 image.
        ("SP-AGG-004", "SP-AGG-007", "SP-AGG-008", "SP-AGG-010"),
        ImageProperty("sp-qemu-qcow2", "hypervisor_type", "esxi", provisioned="qemu"),
    ),
    Fault(
        "qcow2-image-untagged",
        "the lab's qcow2 image loses its hypervisor_type property: ImagePropertiesFilter and "
        "AggregateImagePropertiesIsolation both pass an untagged image (nova bug 1677217) and placement's "
        "image-type pre-filter does not run on rebuild, so a VMware server can be rebuilt into it",
        ("SP-AGG-010",),
        ImageProperty("sp-qemu-qcow2", "hypervisor_type", None, provisioned="qemu"),
    ),
    Fault(
        "vmdk-image-unfiltered",
        "the lab's VMDK image loses its hypervisor_type and [scheduler] query_placement_for_image_type_support "
        "is off: no scheduler layer ties the image to VMware any more, and a request for a KVM host puts it there",
        # Each change alone is caught by a readonly check (AGG-4, AGG-1); AGG-8 shows what they do together.
        ("SP-AGG-001", "SP-AGG-004", "SP-AGG-008"),
        Together((
            ImageProperty("sp-vmware-sparse-vmdk", "hypervisor_type", None, provisioned="vmware"),
            ConfigOption(
                "nova", "scheduler", "query_placement_for_image_type_support", False, restart=("nova-scheduler",)
            ),
        )),
    ),
    Fault(
        "vmware-aggregate-isolated-by-trait",
        f"the vmware aggregate is isolated the isolate_aggregates way ([scheduler] "
        f"enable_isolated_aggregate_filtering, aggregate metadata {_VMWARE_TRAIT}=required, the lab VMDK image "
        "requiring the same trait): a working policy, but not the declared one (AggregateImagePropertiesIsolation "
        "alone), and images without the trait are refused there, untagged ones included",
        ("SP-AGG-009",),
        Together((
            ImageProperty("sp-vmware-sparse-vmdk", _VMWARE_TRAIT, "required", provisioned=None),
            AggregateMetadata("vmware", _VMWARE_TRAIT, "required"),
            ConfigOption(
                "nova", "scheduler", "enable_isolated_aggregate_filtering", True, restart=("nova-scheduler",)
            ),
        )),
    ),
]
# vmdk (issue 15): the faults the vmdk area's controls exist to catch. Only existing actions; the vCenter setting
# is the lab vCenter's own (stackproof_lab/vcenter/nfc.go): how ExportVm hands out a snapshot's disk.
_VMDK_EXPORT_OPTION = "config.stackproof.lab.exportDiskFormat"
_VMDK_CACHE_AGING = (("manager_interval", 1), ("remove_unused_original_minimum_age_seconds", 0))


def _cache_aging_at_once(host: str) -> Together:
    """The aging options on one VMware compute, rendered together, the compute restarted once at the end."""
    first, last = _VMDK_CACHE_AGING
    return Together((ConfigOption(f"nova-{host}", "image_cache", *first, restart=()),
                     ConfigOption(f"nova-{host}", "image_cache", *last, restart=(f"nova-compute-{host}",))))


FAULTS += [
    Fault(
        "vmware-computes-disagree-on-linked-clone",
        "vmware-2 sets [vmware] use_linked_clone=false while vmware-1 keeps the default (true): the two computes "
        "share datastore sp-vmfs-shared and its image cache, one cloning linked children off cached images the "
        "other treats as copies to age away",
        ("SP-VMDK-008",),
        ConfigOption("nova-vmware-2", "vmware", "use_linked_clone", False, restart=("nova-compute-vmware-2",)),
    ),
    Fault(
        "vmware-computes-disagree-on-cache-prefix",
        "vmware-2 sets [vmware] cache_prefix=vmware-2- while vmware-1 has none: on the datastore they share each "
        "keeps its own image cache folder, so an image moves from Glance twice",
        ("SP-VMDK-008",),
        ConfigOption("nova-vmware-2", "vmware", "cache_prefix", "vmware-2-", restart=("nova-compute-vmware-2",)),
    ),
    Fault(
        "vmdk-image-unknown-adapter",
        "the lab's streamOptimized image says vmware_adaptertype=virtio-scsi, a SCSI model nova accepts but its "
        "VMware driver does not know: the root disk silently gets the default LSI Logic controller",
        # AGG-4 reads the value; VMDK-6 boots it and finds another controller.
        ("SP-AGG-004", "SP-VMDK-006"),
        ImageProperty("sp-vmware-stream-vmdk", "vmware_adaptertype", "virtio-scsi", provisioned="lsiLogic"),
    ),
    Fault(
        "vmdk-image-cache-ages-at-once",
        "vmware-1 runs nova's image cache manager every second and removes a cached image as soon as no server "
        "uses it ([image_cache] manager_interval=1, remove_unused_original_minimum_age_seconds=0): its cache keeps "
        "nothing, every boot there after the last server went copies the image from Glance again",
        # VMDK-4 boots each format twice on each compute in turn; VMDK-8 sees vmware-1's aging differ from
        # vmware-2's on the datastore they share.
        ("SP-VMDK-004", "SP-VMDK-008"),
        _cache_aging_at_once("vmware-1"),
    ),
    Fault(
        "vcenter-exports-flat-disks",
        f"the lab vCenter's ExportVm hands out a disk's raw flat extent instead of a streamOptimized VMDK (advanced "
        f"setting {_VMDK_EXPORT_OPTION}=flat, through OptionManager.UpdateOptions): nova uploads a snapshot's "
        "bytes as they come, labelled streamOptimized",
        ("SP-VMDK-007",),
        VSphereChange(("option", _VMDK_EXPORT_OPTION, "flat"), ("option", _VMDK_EXPORT_OPTION, "streamOptimized")),
    ),
    Fault(
        "glance-format-check-on",
        "glance's [image_format] require_image_format_match is on while Glance holds a flat VMDK image "
        "(sp-vmware-flat-vmdk): such an image could not be uploaded again, and no new one can be",
        ("SP-VMDK-001",),
        ConfigOption("glance", "image_format", "require_image_format_match", True, restart=("glance-api",)),
    ),
    Fault(
        "vmdk-flat-image-labelled-thin",
        "the lab's flat VMDK image says vmware_disktype=thin: a thin disk exported from VMFS, which moves its full "
        "64 MiB extent to every datastore like a preallocated one",
        ("SP-VMDK-002",),
        ImageProperty("sp-vmware-flat-vmdk", "vmware_disktype", "thin", provisioned="preallocated"),
    ),
]
BY_NAME = {fault.name: fault for fault in FAULTS}


def get(name: str) -> Fault:
    try:
        return BY_NAME[name]
    except KeyError:
        raise LabError(f"no fault named {name!r}; `python -m stackproof_lab fault list` shows them") from None


def active(layout: Layout) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(layout.faults_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise LabError(f"{layout.faults_file} is not valid JSON; fix or delete it") from None


def _save(layout: Layout, state: dict[str, dict[str, Any]]) -> None:
    tmp = layout.faults_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(layout.faults_file)


def config_overrides(layout: Layout) -> config.Overrides:
    """Config changes of every active fault, merged (a fault no longer in the registry is ignored)."""
    merged: config.Overrides = {}
    for name in active(layout):
        fault = BY_NAME.get(name)
        if fault is None:
            continue
        for cid, sections in fault.action.overrides().items():
            for section, options in sections.items():
                merged.setdefault(cid, {}).setdefault(section, {}).update(options)
    return merged


def data_nic_overrides(layout: Layout) -> data_network.NicState:
    """How active faults want the data NIC, merged (empty: as designed)."""
    merged: data_network.NicState = {}
    for name in active(layout):
        if name in BY_NAME:
            merged.update(BY_NAME[name].action.data_nic())
    return merged


def suppressed_services(layout: Layout) -> set[str]:
    """Services active faults keep stopped, and the services that cannot start without them."""
    stopped = {svc for name in active(layout) if name in BY_NAME for svc in BY_NAME[name].action.suppressed()}
    return stopped | services.dependents(stopped)


def reassert_vcenter_faults(layout: Layout) -> list[str]:
    """Make active vSphere faults true again after the lab vCenter (re)started; returns notes."""
    notes = []
    for name in active(layout):
        fault = BY_NAME.get(name)
        if fault is not None:
            note = fault.action.after_vcenter_start(layout)
            if note:
                notes.append(f"{name}: {note}")
    return notes


def inject(layout: Layout, name: str) -> str:
    fault = get(name)
    state = active(layout)
    if name in state:
        return f"{name}: already active since {state[name]['since']}"
    state[name] = {"since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "controls": list(fault.controls)}
    _save(layout, state)
    try:
        note = fault.action.inject(layout)
    except BaseException:
        state.pop(name)
        _save(layout, state)
        raise
    return f"{name}: injected ({note})"


def clear(layout: Layout, name: str) -> str:
    fault = get(name)
    state = active(layout)
    if name not in state:
        return f"{name}: not active"
    since = state.pop(name)
    _save(layout, state)
    try:
        note = fault.action.clear(layout)
    except BaseException:
        state[name] = since
        _save(layout, state)
        raise
    return f"{name}: cleared ({note})"


def catalogue(layout: Layout) -> list[dict[str, Any]]:
    state = active(layout)
    return [
        {
            "name": f.name,
            "description": f.description,
            "controls": list(f.controls),
            "active": f.name in state,
            "since": state.get(f.name, {}).get("since"),
        }
        for f in FAULTS
    ]


def _start_and_wait(layout: Layout, name: str) -> str:
    service = services.get(name)
    blocked = set(service.needs) & suppressed_services(layout)
    if blocked:
        # e.g. vmware-1-killed cleared while vcenter-stopped is active: that fault's clear restarts it.
        return f"{name}: left stopped, it needs {', '.join(sorted(blocked))}, which another fault keeps stopped"
    services.start(layout, service)
    services.wait_healthy(layout, service, timeout=RESTART_TIMEOUT)
    return f"{name}: running and healthy"
