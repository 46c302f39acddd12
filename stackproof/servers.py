"""Servers as the workload checks boot them: sent through the ledger, waited for until they settle, described
for a failure message.

A boot waits for the server's end state, ACTIVE or ERROR, whichever it becomes: the check judges which one
it should have been (a refused placement is the expected outcome of a negative check).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from openstack import exceptions as os_exc

from stackproof.findings import expect

KVM_HV_TYPE = "QEMU"
VMWARE_HV_TYPE = "VMware vCenter Server"
# The hypervisor API's hypervisor_type -> the image hypervisor_type values that belong on it (nova 34).
IMAGE_HV_TYPES_FOR = {
    KVM_HV_TYPE: frozenset({"qemu", "kvm"}),
    VMWARE_HV_TYPE: frozenset({"vmware"}),
}
GIB = 1024**3
HOST_FIELD_MICROVERSION = (2, 74)  # `host` in the create request: a host request the scheduler still filters
NO_VALID_HOST = "No valid host"
# nova marks a server ERROR before it records the fault that says why (scheduler_utils.set_vm_state_and_notify
# saves the state, then adds the fault): an ERROR counts as the end once its fault is there, or after this long.
FAULT_GRACE = 10.0


def boot(resources: Any, *, hint: str, flavor: Any, image: Any | None = None, host: str | None = None,
         block_device_mapping: list[dict[str, Any]] | None = None, networks: list[dict[str, Any]] | None = None,
         cloud: str | None = None, **extra: Any) -> Any:
    """Send a boot, without networks unless `networks` names them (most checks do not depend on them). `host`
    asks for one host through microversion 2.74's `host`, which still runs every scheduler filter, unlike the old
    az:host form; `block_device_mapping` boots from a volume instead of `image`; `cloud` (a clouds.yaml entry, e.g.
    the overcloud's) boots elsewhere than in the cloud under test; `extra` goes into the request as it is
    (security_groups, key_name).

    A refusal at the API (e.g. image metadata nova cannot parse) is a finding, not a crash of the check."""
    attrs: dict[str, Any] = {"flavor_id": flavor.id, "networks": networks or "none", **extra}
    if image is not None:
        attrs["image_id"] = image.id
    if block_device_mapping is not None:
        attrs["block_device_mapping"] = block_device_mapping
    if host is not None:
        attrs["host"] = host
    try:
        return resources.create("server", cloud=cloud, hint=hint, **attrs)
    except os_exc.HttpException as exc:
        source = f"image {image.name} ({image.id})" if image is not None else f"volumes {block_device_mapping}"
        expect(False, f"nova refused to boot {'image ' + image.name if image is not None else 'from volume'}",
               expected="202 Accepted, then the scheduler decides",
               found=f"{exc.status_code} {exc.details or exc.message}",
               where=f"{source}, flavor {flavor.name}, host {host or 'any'}, request {exc.request_id or 'unknown'}")


def has_ended() -> Callable[[Any], bool]:
    """A predicate for one wait: the server is ACTIVE with no task under way, or ERROR with the fault recorded
    (or ERROR for FAULT_GRACE seconds without one)."""
    errored_at: list[float] = []

    def ended(server: Any) -> bool:
        if server.task_state:
            return False
        if server.status == "ACTIVE":
            return True
        if server.status != "ERROR":
            return False
        if server.fault:
            return True
        errored_at[:1] = errored_at[:1] or [time.monotonic()]
        return time.monotonic() - errored_at[0] >= FAULT_GRACE

    return ended


def settled(cloud: Any, waiter: Any, server: Any, what: str) -> Any:
    """Wait until `server` is ACTIVE or ERROR, whichever it becomes, bounded by the server_active limit."""
    return waiter.until(lambda: cloud.compute.get_server(server.id), limit="server_active", until=has_ended(),
                        state=lambda s: f"{s.status}/{s.task_state}", description=what)


def fault_message(server: Any) -> str:
    fault = server.fault
    return str(fault.get("message", "")) if isinstance(fault, dict) else str(fault or "")


def request_id(cloud: Any, server: Any, action: str = "create") -> str:
    """The request ID of the server's `action` (its instance action record), for the operator's log search."""
    ids = [a.request_id for a in cloud.compute.server_actions(server.id) if a.action == action]
    return ids[-1] if ids else "unknown"


def outcome(server: Any) -> str:
    if server.status == "ACTIVE":
        return f"ACTIVE on host {server.compute_host} (hypervisor {server.hypervisor_hostname})"
    return f"{server.status}: {fault_message(server) or 'no fault recorded'}"


def where(cloud: Any, server: Any, image: Any | None, flavor: Any, action: str = "create") -> str:
    source = f"image {image.name} ({image.id})" if image is not None else "booted from volume"
    return (f"server {server.id} ({server.name}), {source}, flavor {flavor.name}, "
            f"{action} request {request_id(cloud, server, action)}")


def hypervisor_tag(image: Any) -> str | None:
    """The image's hypervisor_type, whether openstacksdk mapped it to an attribute or left it in properties."""
    value = getattr(image, "hypervisor_type", None)
    return value if value is not None else (image.properties or {}).get("hypervisor_type")


def image_for(cloud: Any, disk_format: str, hypervisor_type: str, run_prefix: str, *,
              untagged_first: bool = False) -> Any:
    """The cloud's active `disk_format` image a user would boot on `hypervisor_type`: one tagged for it first,
    then an untagged one, then any other; smallest first. With `untagged_first`, an untagged image comes
    before a tagged one: the image that only the scheduler's other layers keep in place, for a check that
    asks whether they do. The run's own images (other checks' fixtures, deleted at any moment) are left out."""
    wanted = IMAGE_HV_TYPES_FOR.get(hypervisor_type, frozenset())
    candidates = [image for image in cloud.image.images(status="active")
                  if image.disk_format == disk_format and not (image.name or "").startswith(run_prefix)]
    expect(bool(candidates), f"the cloud has no active {disk_format} image to boot",
           expected=f"an active image with disk_format {disk_format}", found="none", where="Glance images")

    def rank(image: Any) -> tuple:
        tag = hypervisor_tag(image)
        kind = "tagged" if tag in wanted else "untagged" if tag is None else "other"
        order = ("untagged", "tagged", "other") if untagged_first else ("tagged", "untagged", "other")
        return (order.index(kind), image.size or 0, image.name or "", image.id)

    return min(candidates, key=rank)


def flavor_for(cloud: Any, image: Any) -> Any:
    """The smallest public flavor that fits `image` and does not pin servers to an aggregate by extra specs
    (AggregateInstanceExtraSpecsFilter would then decide the host, not the image)."""
    disk = max(image.min_disk or 0, math.ceil((image.virtual_size or 0) / GIB))
    flavors = [f for f in cloud.compute.flavors(details=True, is_public=True)
               if not any(k.startswith("aggregate_instance_extra_specs") for k in (f.extra_specs or {}))
               and (f.disk or 0) >= disk and (f.ram or 0) >= (image.min_ram or 0)]
    expect(bool(flavors), f"no public flavor fits image {image.name} without pinning an aggregate",
           expected=f"disk >= {disk} GB, ram >= {image.min_ram or 0} MB, no aggregate_instance_extra_specs",
           found="none", where=f"compute API flavors, image {image.id}")
    return min(flavors, key=lambda f: (f.ram, f.vcpus, f.disk, f.name))


def usable_hosts(cloud: Any, names: list[str], hypervisor_type: str,
                 hypervisors: list | None = None) -> tuple[list[str], list[str]]:
    """Those of `names` (nova host names) whose nova-compute is up, enabled and not forced down and whose only
    hypervisor type is `hypervisor_type`, in the given order; and a line per host saying what was seen."""
    services = {s.host: s for s in cloud.compute.services(binary="nova-compute")}
    types_on: dict[str, set[str]] = {}
    for hv in hypervisors if hypervisors is not None else cloud.compute.hypervisors(details=True):
        types_on.setdefault((hv.service_details or {}).get("host"), set()).add(hv.hypervisor_type)
    usable, seen = [], []
    for name in names:
        service, types = services.get(name), types_on.get(name, set())
        if (types == {hypervisor_type} and service is not None and service.state == "up"
                and service.status == "enabled" and not service.is_forced_down):
            usable.append(name)
        seen.append(f"{name}: hypervisor types {sorted(types)}, "
                    + (f"service {service.state}/{service.status}" if service else "no nova-compute service"))
    return usable, seen


def running_on(cloud: Any, resources: Any, waiter: Any, *, host: str, flavor: Any, hint: str, image: Any = None,
               block_device_mapping: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    """A server booted onto `host` and ACTIVE there: the stage a check then acts on; anything else fails it.
    `extra` (networks, security_groups, key_name) goes to boot()."""
    source = f"image {image.name}" if image is not None else "a volume"
    server = settled(cloud, waiter, boot(resources, image=image, flavor=flavor, host=host, hint=hint,
                                         block_device_mapping=block_device_mapping, **extra),
                     f"a server from {source} on {host} to become ACTIVE or ERROR")
    expect(server.status == "ACTIVE" and server.compute_host == host, f"a server from {source} did not boot on {host}",
           expected=f"ACTIVE on host {host}", found=outcome(server), where=where(cloud, server, image, flavor))
    return server
