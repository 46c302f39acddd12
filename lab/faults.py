"""Faults the lab can inject and clear: each one is what a check exists to catch.

The registry is data: a fault is a name, a description, the control IDs expected to catch it
(``SP-<AREA>-<NNN>``, NNN = the check's number in design/checks.md) and one action. Actions know how to
inject and how to restore; adding a fault is adding one entry to FAULTS. Active faults are recorded in
``<state>/faults.json``; inject and clear are idempotent, and ``up`` keeps active faults in force
(config overrides stay rendered, stopped services stay stopped).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from lab import config, processes, services
from lab.errors import LabError
from lab.layout import Layout

RESTART_TIMEOUT = 120


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
        from lab import provision

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


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    controls: tuple[str, ...]
    action: Action


_FILTERS_WITHOUT_ISOLATION = ",".join(f for f in config.SCHEDULER_FILTERS if f != "AggregateImagePropertiesIsolation")

FAULTS: list[Fault] = [
    Fault(
        "cinder-volume-stopped",
        "cinder-volume (backend lab-kvm) is stopped: the KVM backend reports down, volumes cannot be created",
        ("SP-BLK-001", "SP-BLK-006"),
        StopService("cinder-volume"),
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
]
BY_NAME = {fault.name: fault for fault in FAULTS}


def get(name: str) -> Fault:
    try:
        return BY_NAME[name]
    except KeyError:
        raise LabError(f"no fault named {name!r}; `python -m lab fault list` shows them") from None


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


def suppressed_services(layout: Layout) -> set[str]:
    return {svc for name in active(layout) if name in BY_NAME for svc in BY_NAME[name].action.suppressed()}


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
    services.start(layout, service)
    services.wait_healthy(layout, service, timeout=RESTART_TIMEOUT)
    return f"{name}: running and healthy"
