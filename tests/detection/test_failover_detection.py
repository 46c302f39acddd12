"""Detection proof for the failover area: a lost or mis-timed nova-compute, a cluster fronted twice and a lost
vCenter each turn exactly their controls red, naming the service or setting; clearing restores green."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "failover"

EVIDENCE = {
    "kvm-1-killed": ["kvm-1", "state=down"],
    "vmware-1-killed": {
        "SP-FO-001": ["vmware-1", "state=down"],
        "SP-FO-004": ["host=vmware-1", "no such process"],
    },
    "report-interval-too-long": ["report_interval=15", "kvm-1"],
    "service-down-time-stretched": {
        "SP-FO-003": ["service_down_time=40"],
        "SP-FO-007": ["vmware-1", "bound of 12 s"],
    },
    "vcenter-stopped": {
        "SP-FO-001": ["vmware-1", "set by vmwareapi host_state"],
        "SP-FO-002": ["vCenter 'vc1'"],
        "SP-FO-004": ["vmware-1", "does not answer"],
        "SP-FO-006": ["vmware-1", "set by vmwareapi host_state"],
    },
    "vmware-1-vcenter-unreachable": {
        "SP-FO-001": ["vmware-1", "set by vmwareapi host_state"],
        "SP-FO-004": ["vmware-1 (role compute-vmware", "does not answer"],
        "SP-FO-006": ["vmware-1", "set by vmwareapi host_state"],
    },
    "vmware-2-vcenter-unreachable": {
        "SP-FO-001": ["vmware-2", "set by vmwareapi host_state"],
        "SP-FO-004": ["vmware-2 (role compute-vmware", "does not answer"],
        "SP-FO-006": ["vmware-2", "set by vmwareapi host_state"],
    },
    "vmware-2-tls-unverified": {"SP-FO-003": ["vmware-2 (role compute-vmware", "insecure=true"]},
    "vmware-cluster-fronted-twice": {
        "SP-FO-002": ["vmware-1-twin", "no placement resource provider"],
        "SP-FO-003": ["vmware-1-twin", "the target describes no host"],
        "SP-FO-004": ["vmware-1-twin", "the target describes no host"],
        "SP-FO-005": ["vmware-1-twin", "vmware-1"],
    },
}
# Faults whose effect reaches past their own controls: proven alone.
SOLO = frozenset({"vcenter-stopped", "service-down-time-stretched"})


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green(lab, tmp_path: Path) -> None:
    assert_green(lab, AREA, tmp_path, tier="all")


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE, SOLO), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(lab, batch, tmp_path: Path) -> None:
    prove_batch(lab, AREA, batch, EVIDENCE, tmp_path)
