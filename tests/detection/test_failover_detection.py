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
    "vmware-1-killed": ["vmware-1", "state=down"],
    "report-interval-too-long": ["report_interval=", "compute-"],
    "vcenter-stopped": {
        "SP-FO-001": ["vmware-1", "set by vmwareapi host_state"],
        "SP-FO-002": ["vCenter 'vc1'"],
        "SP-FO-006": ["vmware-1", "set by vmwareapi host_state"],
    },
}


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green_three_times(lab, tmp_path: Path) -> None:
    assert_green_three_times(lab, AREA, tmp_path)


@pytest.mark.parametrize("fault", sorted(EVIDENCE))
def test_fault_turns_exactly_its_controls_red(lab, fault: str, tmp_path: Path) -> None:
    if fault not in lab_faults():
        pytest.fail(f"the lab has no fault {fault!r} yet: add it to lab/faults.py")
    prove(lab, AREA, fault, EVIDENCE[fault], tmp_path)
