"""Detection proof for the failover area: a lost or mis-timed nova-compute, a cluster fronted twice and a lost
vCenter each turn exactly their controls red, naming the service or setting; clearing restores green."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green_three_times, lab_faults, prove

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "failover"

EVIDENCE = {
    "kvm-1-killed": ["kvm-1", "state=down"],
    "vmware-1-killed": {
        "SP-FO-001": ["vmware-1", "state=down"],
        "SP-FO-004": ["host=vmware-1", "no such process"],
    },
    "report-interval-too-long": ["report_interval=", "compute-"],
    "service-down-time-stretched": {
        "SP-FO-003": ["service_down_time=40"],
        "SP-FO-007": ["vmware-1", "bound of 12 s"],
    },
    "vcenter-stopped": {
        "SP-FO-001": ["vmware-1", "set by vmwareapi host_state"],
        "SP-FO-002": ["vCenter 'vc1'"],
        "SP-FO-004": ["host=vmware-1", "does not answer"],
        "SP-FO-006": ["vmware-1", "set by vmwareapi host_state"],
    },
    "vmware-1-vcenter-unreachable": {
        "SP-FO-001": ["vmware-1", "set by vmwareapi host_state"],
        "SP-FO-004": ["host=vmware-1", "does not answer"],
        "SP-FO-006": ["vmware-1", "set by vmwareapi host_state"],
    },
    "vmware-cluster-fronted-twice": {
        "SP-FO-002": ["vmware-1-twin", "no placement resource provider"],
        "SP-FO-005": ["vmware-1-twin", "vmware-1"],
    },
}


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green_three_times(lab, tmp_path: Path) -> None:
    # Disruptive checks included: each one restores what it took away, so three runs in a row prove that too.
    assert_green_three_times(lab, AREA, tmp_path, tier="all")


@pytest.mark.parametrize("fault", sorted(EVIDENCE))
def test_fault_turns_exactly_its_controls_red(lab, fault: str, tmp_path: Path) -> None:
    if fault not in lab_faults():
        pytest.fail(f"the lab has no fault {fault!r} yet: add it to stackproof_lab/faults.py")
    prove(lab, AREA, fault, EVIDENCE[fault], tmp_path)
