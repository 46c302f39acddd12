"""Fault actions: the only way a disruptive check breaks a target, and the guarantee that it is put back.

The target declares what may be done and how (`faults` in stackproof.yaml: per service, the commands that
kill and start it on which host; per VMware compute, how to cut and restore its path to vCenter). The
commands run on the host through testinfra, so a lab, a systemd deployment and a containerised one differ
only in their inventory. Every action is a context manager: leaving it, by success, failure, Ctrl-C or
SIGTERM, runs the restore command and then waits, bounded, until the caller's health probe holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stackproof import safety
from stackproof.errors import SafetyViolation, StackproofError
from stackproof.target import LinkActions, ServiceActions, Target
from stackproof.waiting import Waiter

COMMAND_OUTPUT_TAIL = 600  # characters of a failed command's output kept in the message


class FaultActionError(StackproofError):
    """A declared command failed, or the target was not healthy again after a restore."""


class NotDeclared(StackproofError):
    """The target's fault inventory has no action for what the check wants to do."""


@dataclass
class Disruption:
    """What one applied fault did and when: the check reads its times to measure detection and recovery."""

    what: str
    host: str
    injected_at: float = 0.0
    restored_at: float | None = None
    healthy_at: float | None = None
    notes: list[str] = field(default_factory=list)

    def since_injected(self) -> float:
        return time.monotonic() - self.injected_at


class FaultActions:
    """The target's fault inventory, bound to its hosts (a callable: role -> testinfra hosts)."""

    def __init__(self, target: Target, hosts_of: Callable[[str], list[Any]], waiter: Waiter,
                 log: Callable[[str], None] = lambda _msg: None) -> None:
        self._faults = target.faults
        self._target = target
        self._hosts_of = hosts_of
        self._waiter = waiter
        self._log = log

    def service(self, binary: str, host: str) -> ServiceActions:
        key = f"{binary}@{host}"
        actions = self._faults.services.get(key) if self._faults else None
        if actions is None:
            raise NotDeclared(f"the target declares no fault actions for service {key} (faults.services.{key})")
        return actions

    def vcenter_access(self, host: str) -> LinkActions:
        actions = self._faults.vcenter_access.get(host) if self._faults else None
        if actions is None:
            raise NotDeclared(f"the target declares no way to cut {host}'s vCenter access "
                              f"(faults.vcenter_access.{host})")
        return actions

    @contextmanager
    def service_killed(self, binary: str, host: str, *, healthy: Callable[[], Any], healthy_name: str,
                       healthy_timeout: str = "service_state") -> Iterator[Disruption]:
        """Kill `binary` on `host` (it stays down); on leaving, start it and wait for `healthy`."""
        actions = self.service(binary, host)
        disruption = Disruption(f"{binary}@{host} killed", host)
        with self._applied(disruption, actions, actions.kill, actions.start, healthy, healthy_name, healthy_timeout):
            yield disruption

    def start_service(self, disruption: Disruption, binary: str, host: str) -> None:
        """Start a killed service inside its `service_killed` block, to measure recovery; leaving the block
        then only waits for health."""
        actions = self.service(binary, host)
        self._restore(disruption, actions, actions.start)
        if actions.check:
            self._waiter.until(lambda: self._run(actions, actions.check, must_pass=False), limit="service_state",
                               until=lambda rc: rc == 0, state=lambda rc: f"exit {rc}",
                               description=f"{binary}@{host}: `{actions.check}` to exit 0")

    @contextmanager
    def vcenter_cut(self, host: str, *, healthy: Callable[[], Any], healthy_name: str,
                    healthy_timeout: str = "service_state") -> Iterator[Disruption]:
        """Cut `host`'s path to its vCenter; on leaving, restore it and wait for `healthy`."""
        actions = self.vcenter_access(host)
        disruption = Disruption(f"vCenter access of {host} cut", host)
        with self._applied(disruption, actions, actions.cut, actions.restore, healthy, healthy_name,
                           healthy_timeout):
            yield disruption

    def restore_now(self, disruption: Disruption, actions: ServiceActions | LinkActions) -> None:
        restore = actions.start if isinstance(actions, ServiceActions) else actions.restore
        self._restore(disruption, actions, restore)

    @contextmanager
    def _applied(self, disruption: Disruption, actions: Any, inject: str, restore: str,
                 healthy: Callable[[], Any], healthy_name: str, healthy_timeout: str) -> Iterator[Disruption]:
        _require_disruptive_check(disruption.what)
        self._log(f"fault: {disruption.what}: `{inject}`")
        disruption.injected_at = time.monotonic()
        try:
            self._run(actions, inject)
            # The fault is in place when its command has run: on a remote host that is an ssh round trip (and
            # the command's own start) after it was issued, which is no part of the cloud's detection time.
            disruption.injected_at = time.monotonic()
            yield disruption
        finally:
            # A failed inject may still have half-applied: restore in every case.
            self._restore(disruption, actions, restore)
            self._waiter.until(healthy, limit=healthy_timeout,
                               description=f"{healthy_name} after restoring ({disruption.what})")
            disruption.healthy_at = time.monotonic()
            self._log(f"fault: {disruption.what}: restored and healthy "
                      f"{disruption.healthy_at - disruption.injected_at:.1f} s after it was applied")

    def _restore(self, disruption: Disruption, actions: Any, restore: str) -> None:
        if disruption.restored_at is not None:
            return
        self._log(f"fault: {disruption.what}: restoring with `{restore}`")
        self._run(actions, restore)
        disruption.restored_at = time.monotonic()

    def _run(self, actions: Any, command: str, *, must_pass: bool = True) -> int:
        host = self._host(actions)
        result = host.run(command)
        if must_pass and result.rc != 0:
            output = (result.stdout + result.stderr).strip()[-COMMAND_OUTPUT_TAIL:]
            raise FaultActionError(f"`{command}` on {host.backend.get_hostname()} (role {actions.role}) exited "
                                   f"{result.rc}: {output}")
        return result.rc

    def _host(self, actions: Any):
        hosts = self._hosts_of(actions.role)
        if actions.url is None:
            return hosts[0]
        urls = self._target.hosts[actions.role].urls
        return hosts[urls.index(actions.url)]


def _require_disruptive_check(what: str) -> None:
    # Read-only and workload checks cannot break the target, whatever they call: the tier is the gate.
    # A run capped below disruptive (--max-tier) refuses even a disruptive check.
    context = safety.current()
    if context is None or safety.effective_tier() != "disruptive":
        who = f"{context.control_id} ({context.tier})" if context else "code outside any check"
        if context is not None and context.tier == "disruptive":
            who += f" in a run capped at {safety.ceiling()}"
        raise SafetyViolation(f"{who} tried a fault action ({what}); only disruptive checks may")
