"""Detection proof for the nested area: the lab places an overcloud in its own instances (`up --nested`), and every
lab fault that a nested control exists to catch turns exactly that control red, with the faulty object named, and
clearing it turns the area green again. The overcloud goes at the end of the module (`down --nested`): the other
areas' proofs see the lab as they always do."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "nested"
NESTED_UP_TIMEOUT = 900  # the overcloud's own up from installed packages, on a busy machine: measured in the note

# fault -> control -> texts its failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "overcloud-endpoint-internal": {"SP-NEST-001": ["placement", "undercloud tenant subnet"]},
    "overcloud-node-shut-off": {"SP-NEST-002": ["overcloud hypervisor oc-kvm-2", "is SHUTOFF on undercloud host"]},
    "overcloud-controllers-share-a-host": {"SP-NEST-003": ["undercloud host kvm-1 runs 2 overcloud controllers",
                                                           "oc-kvm-2"]},
    "undercloud-mtu-below-overlay": {"SP-NEST-004": ["sp-overcloud", "MTU 1400"]},
    "overcloud-vlan-not-trunked": {"SP-NEST-004": ["overcloud node oc-kvm-2", "no trunk sub-port for VLAN 101"]},
    "overcloud-node-port-filtered": {"SP-NEST-005": ["oc-kvm-2"]},
    "overcloud-virt-type-kvm": {"SP-NEST-006": ["oc-kvm-1"], "SP-NEST-007": ["oc-kvm-1", "virt_type=kvm without"]},
    "overcloud-image-filters-off": {"SP-NEST-008": ["kvm"]},
    # The guest gets no key pair from the overcloud's metadata service: its sshd refuses the server's key.
    "overcloud-metadata-stopped": {"SP-NEST-009": ["through floating IP", "Permission denied (publickey)"]},
}


# The lab's overcloud computes run QEMU, as its undercloud instances offer no virtualisation: none needs nested KVM,
# and NEST-6 says so (overcloud-virt-type-kvm makes it evaluate, and fail).
EXPECTED_SKIPS = {"SP-NEST-006": "no overcloud compute uses virt_type=kvm"}


@pytest.fixture(scope="module")
def nested_lab(lab):
    result = lab.run("up", "--nested", timeout=NESTED_UP_TIMEOUT)
    assert result.returncode == 0, f"up --nested failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    print(f"\n{result.stdout}")  # the overcloud's step timings, visible with -s
    yield lab
    result = lab.run("down", "--nested", timeout=600)
    assert result.returncode == 0, f"down --nested failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_nested_lab_runs_the_area_green(nested_lab, tmp_path: Path) -> None:
    # The readonly checks: the workload ones run green at the end of the workload batch's proof.
    assert_green(nested_lab, AREA, tmp_path, tier="smoke", expected_skips=EXPECTED_SKIPS)


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(nested_lab, batch, tmp_path: Path) -> None:
    prove_batch(nested_lab, AREA, batch, EVIDENCE, tmp_path, expected_skips=EXPECTED_SKIPS)
