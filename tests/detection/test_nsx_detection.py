"""Detection proof for the nsx area: every lab fault that an NSX control exists to catch turns exactly that
control red, with the faulty object named, and clearing it turns the area green again. Faults whose controls are
disjoint are proven in one batch (inject, one red run, clear, one green run); batches of readonly controls run
the area's readonly checks alone (seconds instead of minutes of boots)."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "nsx"

# fault -> control -> texts its failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "neutron-core-plugin-ml2": {"SP-NSX-001": ["core_plugin=ml2"]},
    "tenant-network-vlan": {"SP-NSX-002": ["sp-fault-vlan-net", "network_type=vlan"]},
    "ovs-agent-registered": {"SP-NSX-003": ["Open vSwitch agent on kvm-1"]},
    "nsx-port-on-wrong-segment": {"SP-NSX-007": ["(sp-port,", "found under segment(s) sp-fault-segment"]},
    "nsx-segment-unrealized": {"SP-NSX-007": ["network sp-net (", "realization state ERROR", "sp-fault-missing-tz"]},
    "nsx-policy-rule-missing": {"SP-NSX-009": ["security group sp-sg (", "3 rule(s) for 4 Neutron rule(s)"]},
    # A compute the target's inventory does not describe: NSX-3 cannot read how it attaches VIFs.
    "vmware-cluster-fronted-twice": {"SP-NSX-003": ["vmware-1-twin", "the target describes no host"]},
    # Workload checks: each text holds a runtime value (a host), so it cannot match the check's own source.
    "vmware-port-bound-as-portgroup": {
        "SP-NSX-004": ["a server with a port did not boot on vmware-"],
        "SP-NSX-005": ["a server with a port did not boot on vmware-"],
        "SP-NSX-008": ["a server with a port did not boot on vmware-"],
        "SP-NSX-010": ["a server with a port did not boot on vmware-"],
    },
    # faults on the second of each family's computes: the checks cover every compute, not the first that boots
    "nsx-firewall-not-enforced": {"SP-NSX-008": ["of removing its rule from sp-", "vmware-2: answers"]},
    "kvm-tap-off-nsx-bridge": {"SP-NSX-006": ["1 of 2 KVM servers' taps", "kvm-2: tap", "on bridge br-int"]},
    "overlay-tunnel-blocked-between-clusters": {"SP-NSX-010": ["on kvm-2 (port", "does not reach server",
                                                               "ping exit 1"]},
}

def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green(lab, tmp_path: Path) -> None:
    # The readonly checks: the workload ones run green at the end of the workload batch's proof (and its red run
    # holds every other control to passing), so a full run here would add minutes and prove nothing more.
    assert_green(lab, AREA, tmp_path, tier="smoke")


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(lab, batch, tmp_path: Path) -> None:
    prove_batch(lab, AREA, batch, EVIDENCE, tmp_path)
