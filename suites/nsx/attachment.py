"""What the NSX workload checks set up: a network of the run's own, servers on it on a designed aggregate's
compute, and the port nova bound for each. Images, flavors and hosts are the cloud's own, chosen by what they are;
the aggregates are the target's design."""

from __future__ import annotations

from typing import Any

from stackproof.findings import expect
from stackproof.servers import KVM_HV_TYPE, boot, flavor_for, image_for, outcome, settled, where
from suites.block_storage.compute_hosts import usable_compute

SUBNET_CIDR = "203.0.113.0/24"  # documentation range: the run's own overlay network
DISK_FORMAT = {KVM_HV_TYPE: "qcow2"}  # anything else: VMware, vmdk


def run_network(resources: Any, hint: str) -> Any:
    """A network of the run (with a subnet, so its ports get addresses), made as a tenant makes one."""
    network = resources.create("network", hint=hint)
    resources.create("subnet", hint=hint, network_id=network.id, ip_version=4, cidr=SUBNET_CIDR)
    return network


def compute_of(cloud: Any, target: Any, hypervisor_type: str, among: list[str] | None = None) -> str:
    """A compute of the aggregate the target designs for `hypervisor_type` that can take a server now (one of
    `among`, nova host names, when given)."""
    names = [a.name for a in target.architecture.aggregates if a.hypervisor_type == hypervisor_type]
    aggregates = {a.name: a for a in cloud.compute.aggregates()}
    hosts = sorted({h for name in names if name in aggregates for h in aggregates[name].hosts or []})
    if among is not None:
        hosts = [h for h in hosts or among if h in among]
    return usable_compute(cloud, hypervisor_type, among=hosts if hosts or among is not None else None)


class Boot:
    """A server sent onto a compute of one hypervisor family, on a network, not waited for yet."""

    def __init__(self, cloud: Any, resources: Any, target: Any, run: Any, hypervisor_type: str, network: Any,
                 hint: str, among: list[str] | None = None, **extra: Any) -> None:
        self.cloud, self.hypervisor_type = cloud, hypervisor_type
        self.host = compute_of(cloud, target, hypervisor_type, among)
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


def port_of(cloud: Any, server: Any, network: Any) -> Any:
    """The server's one port on `network`."""
    ports = list(cloud.network.ports(device_id=server.id, network_id=network.id))
    expect(len(ports) == 1, f"server {server.id} does not have exactly one port on network {network.name}",
           expected="one port", found=[p.id for p in ports] or "none",
           where=f"server {server.id} on {server.compute_host}, network {network.id}")
    return ports[0]
