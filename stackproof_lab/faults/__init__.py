"""Faults the lab can inject and clear: the catalogue (catalogue.py), the actions by family, the state store.

Active faults are recorded in ``<state>/faults.json``; inject and clear are idempotent. ``up`` keeps active
faults in force through the views below: config overrides stay rendered, stopped services stay stopped,
data NICs stay as the faults want them, firewall rules are made again in re-made hosts, and vSphere changes
are made again whenever the lab vCenter starts (it starts from its baseline inventory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackproof_lab import services
from stackproof_lab.configs.ini import Overrides, merge_overrides
from stackproof_lab.errors import LabError
from stackproof_lab.faults import state
from stackproof_lab.faults.base import Fault, Lab, NicStates
from stackproof_lab.faults.catalogue import BY_NAME, FAULTS
from stackproof_lab.faults.vsphere import enable_vmware_services as _enable_vmware_services
from stackproof_lab.layout import Layout

__all__ = ["FAULTS", "Fault", "active", "catalogue", "clear", "inject"]

active = state.active


def get(name: str) -> Fault:
    try:
        return BY_NAME[name]
    except KeyError:
        raise LabError(f"no fault named {name!r}; `python -m stackproof_lab fault list` shows them") from None


def _in_force(names: dict[str, Any]) -> list[Fault]:
    # A fault no longer in the catalogue (an older lab's) is ignored.
    return [BY_NAME[name] for name in names if name in BY_NAME]


def config_overrides(layout: Layout) -> Overrides:
    """Config changes of every active fault, merged."""
    return merge_overrides([fault.action.overrides() for fault in _in_force(active(layout))])


def data_nic_states(layout: Layout) -> NicStates:
    """How active faults want the compute hosts' data NICs (absent: as designed)."""
    merged: NicStates = {}
    for fault in _in_force(active(layout)):
        for host, wanted in fault.action.data_nics().items():
            merged.setdefault(host, {}).update(wanted)
    return merged


def suppressed_services(layout: Layout) -> set[str]:
    """Services active faults keep stopped, and the services that cannot start without them."""
    stopped = {name for fault in _in_force(active(layout)) for name in fault.action.suppressed()}
    return stopped | services.dependents(stopped)


def lab(layout: Layout, converge: Callable[..., None] | None = None) -> Lab:
    """What actions are handed, as the faults recorded now put the lab."""
    handle = Lab(layout, config_overrides(layout), suppressed_services(layout))
    if converge is not None:
        handle.converge = converge
    return handle


def reassert_vcenter_faults(layout: Layout) -> list[str]:
    """Make active vSphere faults true again after the lab vCenter (re)started; returns notes."""
    handle = lab(layout)
    return [f"{fault.name}: {note}" for fault in _in_force(active(layout))
            if (note := fault.action.after_vcenter_start(handle))]


def reassert_host_faults(layout: Layout) -> list[str]:
    """Make active faults that live in the hosts (firewall rules) true again; returns notes."""
    handle = lab(layout)
    return [f"{fault.name}: {note}" for fault in _in_force(active(layout))
            if (note := fault.action.after_hosts_start(handle))]


def enable_vmware_services(layout: Layout) -> list[str]:
    return _enable_vmware_services(lab(layout))


def inject(layout: Layout, name: str, converge: Callable[..., None]) -> str:
    fault = get(name)
    current = active(layout)
    if name in current:
        return f"{name}: already active since {current[name]['since']}"
    current[name] = state.entry(fault.controls)
    state.save(layout, current)
    try:
        note = fault.action.inject(lab(layout, converge))
    except BaseException:
        current.pop(name)
        state.save(layout, current)
        raise
    return f"{name}: injected ({note})"


def clear(layout: Layout, name: str, converge: Callable[..., None]) -> str:
    fault = get(name)
    current = active(layout)
    if name not in current:
        return f"{name}: not active"
    since = current.pop(name)
    state.save(layout, current)
    try:
        note = fault.action.clear(lab(layout, converge))
    except BaseException:
        current[name] = since
        state.save(layout, current)
        raise
    return f"{name}: cleared ({note})"


def catalogue(layout: Layout) -> list[dict[str, Any]]:
    current = active(layout)
    return [
        {
            "name": f.name,
            "description": f.description,
            "controls": list(f.controls),
            "active": f.name in current,
            "since": current.get(f.name, {}).get("since"),
        }
        for f in FAULTS
    ]
