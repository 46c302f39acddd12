"""The compute API moves the failover checks share: a service by host, a server booted onto one host, fencing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def service_on(cloud, host: str, binary: str = "nova-compute") -> Any:
    found = [s for s in cloud.compute.services(binary=binary) if s.host == host]
    return found[0] if found else None


def boot_on(cloud, resources, spec, host: str, hint: str) -> Any:
    """Boot onto `host` (microversion 2.74 `host=`: the scheduler's filters still apply, unlike az:host)."""
    return resources.create("server", hint=hint, image_id=spec.image_id, flavor_id=spec.flavor_id,
                            networks="none", host=host)


@contextmanager
def forced_down(cloud, waiter, service) -> Iterator[Any]:
    """Fence `service` (forced_down=true, compute microversion 2.53) and always unfence it, whatever happens
    inside, then wait until the API shows it up again. Yields the service as the fencing call returned it."""
    fenced = cloud.compute.update_service_forced_down(service, forced=True)
    try:
        yield fenced
    finally:
        cloud.compute.update_service_forced_down(service, forced=False)
        waiter.until(lambda: service_on(cloud, service.host, service.binary), limit="service_state",
                     until=lambda s: s.state == "up" and not s.is_forced_down,
                     state=lambda s: f"state={s.state}, forced_down={s.is_forced_down}",
                     description=f"{service.binary} on {service.host} up and not forced down after unfencing")
