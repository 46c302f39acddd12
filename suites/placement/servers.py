"""What the placement workload checks boot (the boot itself is the engine's, stackproof.servers).

Images and flavors are the cloud's own, chosen by what they are (disk format, hypervisor tag, size), hosts
by the designed aggregates of the target description: nothing names a particular deployment.
"""

from __future__ import annotations

from typing import Any

from stackproof.findings import expect
from stackproof.servers import HOST_FIELD_MICROVERSION, usable_hosts


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
    usable, seen = usable_hosts(cloud, sorted(aggregate.hosts or []), hypervisor_type, topology.hypervisors)
    expect(bool(usable), f"aggregate {aggregate.name} has no {hypervisor_type} host that can take a server",
           expected=f"a host with a {hypervisor_type} hypervisor and nova-compute up and enabled",
           found="; ".join(seen) or "no hosts", where=f"aggregate {aggregate.name} ({aggregate.id})")
    return usable[0]
