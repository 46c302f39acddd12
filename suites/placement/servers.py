"""What the placement workload checks boot, and the boot itself.

Images and flavors are the cloud's own, chosen by what they are (disk format, hypervisor tag, size), hosts
by the designed aggregates of the target description: nothing names a particular deployment. A boot waits
for the server's end state, ACTIVE or ERROR, and the checks judge which one it should have been.
"""

from __future__ import annotations

import math
from typing import Any

from openstack import exceptions as os_exc

from stackproof.findings import expect
from suites.placement.nova_facts import IMAGE_HV_TYPES_FOR

VMWARE_HV_TYPE = "VMware vCenter Server"
KVM_HV_TYPE = "QEMU"
NO_VALID_HOST = "No valid host"
GIB = 1024**3
HOST_FIELD_MICROVERSION = (2, 74)  # `host` in the create request: a host request the scheduler still filters


def hypervisor_tag(image: Any) -> str | None:
    """The image's hypervisor_type, whether openstacksdk mapped it to an attribute or left it in properties."""
    value = getattr(image, "hypervisor_type", None)
    return value if value is not None else (image.properties or {}).get("hypervisor_type")


def designed_aggregate(topology: Any, expected_aggregates: list, hypervisor_type: str) -> Any:
    """The cloud's aggregate that the target designs for `hypervisor_type`."""
    specs = [spec for spec in expected_aggregates if spec.hypervisor_type == hypervisor_type]
    expect(bool(specs), f"the target designs no aggregate for {hypervisor_type} hypervisors",
           expected=f"an entry with hypervisor_type {hypervisor_type!r}",
           found=[f"{s.name}: {s.hypervisor_type}" for s in expected_aggregates],
           where="target architecture.aggregates")
    name = specs[0].name
    expect(name in topology.aggregates, f"aggregate {name} does not exist", expected=f"aggregate {name}",
           found=f"aggregates {sorted(topology.aggregates)}", where="compute API os-aggregates")
    return topology.aggregates[name]


def require_host_field(cloud: Any) -> tuple[int, int]:
    """The compute API's max microversion, which must take `host` in a create request (2.74)."""
    data = cloud.compute.get_endpoint_data()
    found = tuple(data.max_microversion or (2, 1)) if data else (2, 1)
    expect(found >= HOST_FIELD_MICROVERSION, "the compute API cannot ask for a host through the scheduler",
           expected="max microversion >= 2.74 (`host` in the create request)",
           found=f"max microversion {'.'.join(map(str, found))}", where=f"compute API {data.url if data else '?'}")
    return found


def usable_host(cloud: Any, topology: Any, aggregate: Any, hypervisor_type: str) -> str:
    """The first host (by name) of `aggregate` whose hypervisor is of `hypervisor_type` and whose nova-compute is
    up and enabled: a host that could take a server, so a refusal there is the image policy's doing."""
    services = {s.host: s for s in cloud.compute.services(binary="nova-compute")}
    usable, seen = [], []
    for host in sorted(aggregate.hosts or []):
        types = {hv.hypervisor_type for hv in topology.hypervisors_on(host)}
        service = services.get(host)
        if types == {hypervisor_type} and service is not None and service.state == "up" \
                and service.status == "enabled" and not service.is_forced_down:
            usable.append(host)
        seen.append(f"{host}: hypervisor types {sorted(types)}, "
                    + (f"service {service.state}/{service.status}" if service else "no nova-compute service"))
    expect(bool(usable), f"aggregate {aggregate.name} has no {hypervisor_type} host that can take a server",
           expected=f"a host with a {hypervisor_type} hypervisor and nova-compute up and enabled",
           found="; ".join(seen) or "no hosts", where=f"aggregate {aggregate.name} ({aggregate.id})")
    return usable[0]


def image_for(cloud: Any, disk_format: str, hypervisor_type: str, run_prefix: str) -> Any:
    """The cloud's active `disk_format` image a user would boot on `hypervisor_type`: one tagged for it first,
    then an untagged one, then any other; smallest first. The run's own images (other checks' fixtures,
    deleted at any moment) are left out."""
    wanted = IMAGE_HV_TYPES_FOR.get(hypervisor_type, frozenset())
    candidates = [image for image in cloud.image.images(status="active")
                  if image.disk_format == disk_format and not (image.name or "").startswith(run_prefix)]
    expect(bool(candidates), f"the cloud has no active {disk_format} image to boot",
           expected=f"an active image with disk_format {disk_format}", found="none", where="Glance images")

    def rank(image: Any) -> tuple:
        tag = hypervisor_tag(image)
        return (0 if tag in wanted else 1 if tag is None else 2, image.size or 0, image.name or "", image.id)

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


def boot(resources: Any, *, image: Any, flavor: Any, hint: str, host: str | None = None) -> Any:
    """Send a boot without networks (placement does not depend on them); `host` asks for one host through
    microversion 2.74's `host`, which still runs every scheduler filter, unlike the old az:host form."""
    attrs: dict[str, Any] = {"image_id": image.id, "flavor_id": flavor.id, "networks": "none"}
    if host is not None:
        attrs["host"] = host
    try:
        return resources.create("server", hint=hint, **attrs)
    except os_exc.HttpException as exc:
        # A refusal at the API (e.g. image metadata nova cannot parse) is a finding, not a crash of the check.
        expect(False, f"nova refused to boot image {image.name}",
               expected="202 Accepted, then the scheduler decides",
               found=f"{exc.status_code} {exc.details or exc.message}",
               where=f"image {image.name} ({image.id}), flavor {flavor.name}, host {host or 'any'}, "
                     f"request {exc.request_id or 'unknown'}")


def settled(cloud: Any, waiter: Any, server: Any, what: str) -> Any:
    """Wait until `server` is ACTIVE or ERROR, whichever it becomes, bounded by the server_active limit."""
    return waiter.until(lambda: cloud.compute.get_server(server.id), limit="server_active",
                        until=lambda s: s.status in ("ACTIVE", "ERROR"), description=what)


def fault_message(server: Any) -> str:
    fault = server.fault
    return str(fault.get("message", "")) if isinstance(fault, dict) else str(fault or "")


def request_id(cloud: Any, server: Any, action: str = "create") -> str:
    """The request ID of the server's `action` (its instance action record), for the operator's log search."""
    ids = [a.request_id for a in cloud.compute.server_actions(server.id) if a.action == action]
    return ids[-1] if ids else "unknown"


def where(cloud: Any, server: Any, image: Any, flavor: Any, action: str = "create") -> str:
    return (f"server {server.id} ({server.name}), image {image.name} ({image.id}), flavor {flavor.name}, "
            f"{action} request {request_id(cloud, server, action)}")


def outcome(server: Any) -> str:
    if server.status == "ACTIVE":
        return f"ACTIVE on host {server.compute_host} (hypervisor {server.hypervisor_hostname})"
    return f"{server.status}: {fault_message(server) or 'no fault recorded'}"
