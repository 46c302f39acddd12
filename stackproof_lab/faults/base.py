"""What a fault action is, and what it is handed: the lab, the faults in force, and the lab's runner.

An action never reads the fault state back: ``Lab`` carries what is in force once this inject or clear is
recorded (config overrides, services kept stopped, data NIC states), and ``converge`` brings lab steps (a
service, "hosts", "vcenter-ready", ...) to the state that implies, through the same runner as ``up``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackproof_lab import provision
from stackproof_lab.configs.ini import Overrides
from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout
from stackproof_lab.rest import Cloud

NicStates = dict[str, dict[str, Any]]  # host -> {"up": bool, "mtu": int}


@dataclass
class Lab:
    layout: Layout
    overrides: Overrides = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    # Bring lab steps to their declared state (lifecycle.converge); vcenter_restarted: the vCenter just
    # came back from its baseline, so its clients restart.
    converge: Callable[..., None] = lambda targets, vcenter_restarted=False: None

    def cloud(self) -> Cloud:
        return provision.admin(self.layout)

    def start(self, *names: str) -> str:
        """Start services (unless a fault in force holds them) and wait until they are healthy."""
        self.converge(list(names))
        held = [n for n in names if n in self.suppressed]
        running = [n for n in names if n not in self.suppressed]
        return "; ".join([*(f"{n}: running and healthy" for n in running),
                          *(f"{n}: left stopped, another fault holds it" for n in held)])


def network_resource(cloud: Cloud, collection: str, name: str, **filters: str) -> dict[str, Any]:
    """The Neutron resource of that name (``collection``: networks, ports, trunks, security-groups) a fault acts on,
    or a LabError saying it is missing."""
    query = "&".join(f"{k}={v}" for k, v in {"name": name, **filters}.items())
    found = cloud.call("network", "GET", f"/{collection}?{query}")[collection.replace("-", "_")]
    if not found:
        raise LabError(f"{collection[:-1]} {name!r} does not exist; is the lab provisioned?")
    return found[0]


class Action:
    """How a fault changes the lab. Subclasses override inject/clear; the rest are hints for ``up``."""

    def inject(self, lab: Lab) -> str:
        raise NotImplementedError

    def clear(self, lab: Lab) -> str:
        raise NotImplementedError

    def overrides(self) -> Overrides:
        """Config options the fault changes (rendered by ``up`` and by every converge)."""
        return {}

    def suppressed(self) -> tuple[str, ...]:
        """Services the fault keeps stopped."""
        return ()

    def data_nics(self) -> NicStates:
        """How the fault wants compute data NICs (made by the "hosts" step)."""
        return {}

    def after_vcenter_start(self, lab: Lab) -> str:
        """Make the fault true again in a lab vCenter that just started from its baseline inventory."""
        return ""

    def after_hosts_start(self, lab: Lab) -> str:
        """Make the fault true again in hosts that were just (re)made (firewall rules live in them)."""
        return ""


@dataclass(frozen=True)
class Together(Action):
    """Several changes that only together make the fault (each alone is caught elsewhere, or harmless):
    injected in order, cleared in reverse order."""

    steps: tuple[Action, ...]

    def inject(self, lab: Lab) -> str:
        return "; ".join(step.inject(lab) for step in self.steps)

    def clear(self, lab: Lab) -> str:
        return "; ".join(step.clear(lab) for step in reversed(self.steps))

    def overrides(self) -> Overrides:
        merged: Overrides = {}
        for step in self.steps:
            for cid, sections in step.overrides().items():
                for section, options in sections.items():
                    merged.setdefault(cid, {}).setdefault(section, {}).update(options)
        return merged

    def suppressed(self) -> tuple[str, ...]:
        return tuple(name for step in self.steps for name in step.suppressed())

    def data_nics(self) -> NicStates:
        merged: NicStates = {}
        for step in self.steps:
            merged.update(step.data_nics())
        return merged

    def after_vcenter_start(self, lab: Lab) -> str:
        return "; ".join(note for step in self.steps if (note := step.after_vcenter_start(lab)))

    def after_hosts_start(self, lab: Lab) -> str:
        return "; ".join(note for step in self.steps if (note := step.after_hosts_start(lab)))


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    controls: tuple[str, ...]
    action: Action
