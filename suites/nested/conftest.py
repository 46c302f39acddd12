"""Capabilities the nested checks share: the designed nesting, the undercloud's servers, and the overcloud's
nodes found among them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suites.nested import nodes as read
from suites.nested.rules import Nodes, UnderServer, controller_nodes, hypervisor_nodes


@dataclass(frozen=True)
class OvercloudNodes:
    hypervisors: Nodes  # overcloud hypervisor hostname -> its undercloud server
    host_ips: frozenset[str]  # every overcloud hypervisor's host_ip: where its tunnels start and end
    controllers: Nodes  # overcloud controller host -> its undercloud server
    control_services: dict[str, list[str]]  # overcloud controller host -> its control services

    @property
    def every(self) -> dict[str, UnderServer]:
        """Each overcloud node once, by its overcloud name (a node both hypervisor and controller counts once)."""
        found: dict[str, UnderServer] = {}
        for name, server in (*self.controllers.found.items(), *self.hypervisors.found.items()):
            if server.id not in {s.id for s in found.values()}:
                found[name] = server
        return found


# Session scope, and first in every check's arguments: set up before the clouds' fixtures, so that a target
# without a nested cloud is reported as such rather than as a missing undercloud.
@pytest.fixture(scope="session")
def nested_design(target):
    if target.architecture.nested is None:
        pytest.skip("the target declares no nested cloud (architecture.nested)")
    return target.architecture.nested


@pytest.fixture(scope="module")
def undercloud_servers(nested_design, undercloud) -> list[UnderServer]:
    return read.undercloud_servers(undercloud)


@pytest.fixture(scope="module")
def overcloud_nodes(overcloud, undercloud_servers) -> OvercloudNodes:
    controllers = read.overcloud_controllers(overcloud)
    hypervisors = read.overcloud_hypervisors(overcloud)
    return OvercloudNodes(hypervisor_nodes(hypervisors, undercloud_servers),
                          frozenset(host_ip for _name, host_ip in hypervisors if host_ip),
                          controller_nodes(controllers, undercloud_servers), controllers)
