"""Detection proof for the placement area: every lab fault that a placement control exists to catch turns
exactly that control red, with the faulty object named, and clearing it turns the area green again."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "placement"

# fault -> texts the failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "kvm-aggregate-key-ignored": ["aggregate kvm", "'hypervisor_type'", "img_hv_type"],
    "isolation-filter-removed": ["AggregateImagePropertiesIsolation", "enabled_filters"],
    "placement-image-type-query-off": ["query_placement_for_image_type_support"],
    "vmware-aggregate-has-kvm-host": ["kvm-1", "vmware"],
    "vmdk-image-untagged": ["sp-", "hypervisor_type=None"],
    "image-invalid-hypervisor-type": {
        "SP-AGG-004": ["hypervisor_type=esxi"],
        "SP-AGG-007": ["nova refused to boot image sp-qemu-qcow2", "Invalid image metadata"],
        "SP-AGG-008": ["nova refused to boot image sp-qemu-qcow2", "Invalid image metadata"],
        "SP-AGG-010": ["sp-qemu-qcow2", "Invalid image metadata"],
    },
    "drs-partially-automated": ["sp-cluster-1", "partiallyAutomated"],
    "sp-cluster-2-drs-manual": ["sp-cluster-2", "defaultVmBehavior=manual"],
    "datastore-unshared": ["sp-vmfs-1", "mounted=False"],
    "host-in-maintenance": ["sp-cluster-1", "inMaintenanceMode=True"],
    "vcenter-stopped": {
        "SP-AGG-011": ["vCenter 'vc1'", "cannot reach"],
        "SP-AGG-012": ["vCenter 'vc1'", "cannot reach"],
        "SP-AGG-006": ["image sp-vmware-sparse-vmdk did not boot", "ERROR: No valid host"],
        "SP-AGG-008": ["aggregate vmware has no VMware vCenter Server host", "service up/disabled"],
        "SP-AGG-009": ["aggregate vmware has no VMware vCenter Server host", "service up/disabled"],
        "SP-AGG-010": ["image sp-vmware-sparse-vmdk did not boot onto aggregate vmware", "ERROR: No valid host"],
    },
    # Workload checks. A failure message carries the check's source too: each text holds a runtime value
    # (an image, a host, nova's answer), so it cannot match the source line that would print it.
    "qcow2-image-untagged": ["with qcow2 image sp-qemu-qcow2 was not refused", "on vmware-"],
    "vmware-aggregate-isolated-by-trait": ["was refused by VMware host vmware-", "refused: ERROR: No valid host"],
    # vmdk (issue 15): AGG-4 reads the value the VMware driver does not know (SP-VMDK-006 boots it).
    "vmdk-image-unknown-adapter": {"SP-AGG-004": ["sp-vmware-stream-vmdk", "vmware_adaptertype=virtio-scsi"]},
    "vmdk-image-unfiltered": {
        "SP-AGG-001": ["query_placement_for_image_type_support"],
        "SP-AGG-004": ["sp-vmware-sparse-vmdk", "hypervisor_type=None"],
        "SP-AGG-008": ["vmdk image sp-vmware-sparse-vmdk asked onto QEMU host kvm-", "ACTIVE on host kvm-"],
    },
}

# Faults whose effect reaches past their own controls: proven alone.
SOLO = frozenset({"vcenter-stopped", "vmdk-image-unfiltered"})

def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green(lab, tmp_path: Path) -> None:
    assert_green(lab, AREA, tmp_path, tier="full")


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE, SOLO), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(lab, batch, tmp_path: Path) -> None:
    prove_batch(lab, AREA, batch, EVIDENCE, tmp_path)
