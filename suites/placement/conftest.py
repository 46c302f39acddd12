"""Capabilities the placement checks share: the cloud's aggregates, compute hosts and hypervisors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Topology:
    aggregates: dict  # name -> openstacksdk Aggregate
    compute_hosts: set[str]
    hypervisors: list  # openstacksdk Hypervisor (details)

    def hypervisors_on(self, host: str) -> list:
        return [hv for hv in self.hypervisors if (hv.service_details or {}).get("host") == host]


@pytest.fixture(scope="module")
def topology(cloud) -> Topology:
    return Topology(
        aggregates={agg.name: agg for agg in cloud.compute.aggregates()},
        compute_hosts={svc.host for svc in cloud.compute.services(binary="nova-compute")},
        hypervisors=list(cloud.compute.hypervisors(details=True)),
    )


@pytest.fixture(scope="module")
def expected_aggregates(target) -> list:
    if not target.architecture.aggregates:
        pytest.skip("the target declares no aggregates (architecture.aggregates)")
    return target.architecture.aggregates


@pytest.fixture(scope="module")
def image_policy(target):
    if target.architecture.image_policy is None:
        pytest.skip("the target declares no image-property policy (architecture.image_policy)")
    return target.architecture.image_policy
