"""Capabilities the NSX checks share: the designed NSX attachment, and the cloud's networks, ports and security
groups as Neutron shows them."""

from __future__ import annotations

import pytest

from suites.nsx.neutron import Neutron, read_neutron


@pytest.fixture(scope="module")
def nsx_design(target):
    if target.architecture.nsx is None:
        pytest.skip("the target declares no NSX attachment (architecture.nsx)")
    return target.architecture.nsx


@pytest.fixture(scope="module")
def neutron(cloud, run) -> Neutron:
    return read_neutron(cloud, run.prefix)
