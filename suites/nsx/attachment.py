"""What the NSX workload checks set up: a network of the run's own, servers on it on a designed aggregate's
compute, and the port nova bound for each. Images, flavors and hosts are the cloud's own, chosen by what they are;
the aggregates are the target's design."""

from __future__ import annotations

from typing import Any

from stackproof.findings import expect
from stackproof.servers import (
    KVM_HV_TYPE,
    VMWARE_HV_TYPE,
    boot,
    flavor_for,
    image_for,
    outcome,
    settled,
    where,
)
from suites.block_storage.compute_hosts import usable_compute, usable_computes

SUBNET_CIDR = "203.0.113.0/24"  # documentation range: the run's own overlay network
DISK_FORMAT = {KVM_HV_TYPE: "qcow2"}  # anything else: VMware, vmdk
FAMILIES = (KVM_HV_TYPE, VMWARE_HV_TYPE)  # the two aggregates' hypervisor types, whose instances share networks


def run_network(resources: Any, hint: str) -> Any:
    """A network of the run (with a subnet, so its ports get addresses), made as a tenant makes one."""
    network = resources.create("network", hint=hint)
    resources.create("subnet", hint=hint, network_id=network.id, ip_version=4, cidr=SUBNET_CIDR)
    return network


def _designed_hosts(cloud: Any, target: Any, hypervisor_type: str) -> list[str]:
    """The hosts the cloud has in the aggregates the target designs for `hypervisor_type` (empty: none designed)."""
    names = [a.name for a in target.architecture.aggregates if a.hypervisor_type == hypervisor_type]
    aggregates = {a.name: a for a in cloud.compute.aggregates()}
    return sorted({h for name in names if name in aggregates for h in aggregates[name].hosts or []})


def compute_of(cloud: Any, target: Any, hypervisor_type: str, among: list[str] | None = None) -> str:
    """A compute of the aggregate the target designs for `hypervisor_type` that can take a server now (one of
    `among`, nova host names, when given)."""
    hosts = _designed_hosts(cloud, target, hypervisor_type)
    if among is not None:
        hosts = [h for h in hosts or among if h in among]
    return usable_compute(cloud, hypervisor_type, among=hosts if hosts or among is not None else None)


def every_compute(cloud: Any, target: Any, hypervisor_type: str) -> tuple[list[str], list[str]]:
    """Every compute of the family, as the cloud has it (the designed aggregate's hosts, else every host with a
    `hypervisor_type` hypervisor): those that can take a server now, and a line for each that cannot (the check
    evaluates the first and names the second as not evaluated). None that can is a finding at once."""
    return usable_computes(cloud, hypervisor_type, _designed_hosts(cloud, target, hypervisor_type) or None)


def expect_every_compute_evaluated(unusable: list[str], what: str) -> None:
    """The end of a check that covers every compute: those that could not take a server are named, not skipped."""
    expect(not unusable, f"{what} not evaluated on {len(unusable)} compute(s): they cannot take a server",
           expected="every compute of both aggregates up and enabled", found="; ".join(unusable),
           where="compute API os-services, os-hypervisors")


class Boot:
    """A server sent onto a compute of one hypervisor family, on a network, not waited for yet."""

    def __init__(self, cloud: Any, resources: Any, target: Any, run: Any, hypervisor_type: str, network: Any,
                 hint: str, among: list[str] | None = None, host: str | None = None, **extra: Any) -> None:
        """`host`: that compute (one of every_compute's); else one of the family (of `among`) that can take it."""
        self.cloud, self.hypervisor_type = cloud, hypervisor_type
        self.host = host or compute_of(cloud, target, hypervisor_type, among)
        self.image = image_for(cloud, DISK_FORMAT.get(hypervisor_type, "vmdk"), hypervisor_type, run.prefix)
        self.flavor = flavor_for(cloud, self.image)
        self.server = boot(resources, image=self.image, flavor=self.flavor, host=self.host, hint=hint,
                           networks=[{"uuid": network.id}], **extra)

    def active(self, waiter: Any) -> Any:
        """The server once settled; it must be ACTIVE on the compute it was sent to."""
        server = settled(self.cloud, waiter, self.server,
                         f"a server on {self.host} ({self.hypervisor_type}) to become ACTIVE or ERROR")
        expect(server.status == "ACTIVE" and server.compute_host == self.host,
               f"a server with a port did not boot on {self.host}", expected=f"ACTIVE on host {self.host}",
               found=outcome(server), where=where(self.cloud, server, self.image, self.flavor))
        self.server = server
        return server


def boot_everywhere(cloud: Any, resources: Any, target: Any, run: Any, network: Any, hint: str,
                    **extra: Any) -> tuple[list[Boot], list[str]]:
    """A server on `network` on every compute of both families that can take one (KVM's first; `extra` goes to
    boot()), not waited for; and a line for each compute that cannot (for expect_every_compute_evaluated)."""
    boots, unusable = [], []
    for hypervisor_type in FAMILIES:
        hosts, missing = every_compute(cloud, target, hypervisor_type)
        unusable += missing
        boots += [Boot(cloud, resources, target, run, hypervisor_type, network, f"{hint}-{host}", host=host, **extra)
                  for host in hosts]
    return boots, unusable


def port_of(cloud: Any, server: Any, network: Any) -> Any:
    """The server's one port on `network`."""
    ports = list(cloud.network.ports(device_id=server.id, network_id=network.id))
    expect(len(ports) == 1, f"server {server.id} does not have exactly one port on network {network.name}",
           expected="one port", found=[p.id for p in ports] or "none",
           where=f"server {server.id} on {server.compute_host}, network {network.id}")
    return ports[0]
