"""The compute API moves the failover checks share: a service by host, a server booted onto one host."""

from __future__ import annotations

from typing import Any


def service_on(cloud, host: str, binary: str = "nova-compute") -> Any:
    found = [s for s in cloud.compute.services(binary=binary) if s.host == host]
    return found[0] if found else None


def boot_on(cloud, resources, spec, host: str, hint: str) -> Any:
    """Boot onto `host` (microversion 2.74 `host=`: the scheduler's filters still apply, unlike az:host)."""
    return resources.create("server", hint=hint, image_id=spec.image_id, flavor_id=spec.flavor_id,
                            networks="none", host=host)


def settled(cloud, waiter, server, what: str) -> Any:
    """Wait until a new server is ACTIVE or ERROR (whichever it becomes), bounded by server_active."""
    return waiter.until(lambda: cloud.compute.get_server(server.id), limit="server_active",
                        until=lambda s: s.status in ("ACTIVE", "ERROR"), description=what)


def fault_message(server) -> str:
    return (server.fault or {}).get("message", "") if isinstance(server.fault, dict) else str(server.fault or "")
