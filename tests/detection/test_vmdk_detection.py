"""Detection proof for the vmdk area: every lab fault that a vmdk control exists to catch turns exactly that control
red, with the faulty object named, and clearing it turns the area green again.

Faults that only readonly controls catch are proved with the area's readonly checks alone: the workload checks
move hundreds of megabytes per run, and CI's time is shared by every area."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green_three_times, lab_faults, prove

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "vmdk"

# fault -> texts the failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "vmware-computes-disagree-on-linked-clone": ["datastore sp-vmfs-shared",
                                                 "vmware-2: [vmware] use_linked_clone=False",
                                                 "vmware-1: [vmware] use_linked_clone=True"],
    "vmware-computes-disagree-on-cache-prefix": ["datastore sp-vmfs-shared", "[vmware] cache_prefix=vmware-2-",
                                                 "cache folder vmware-2-_base"],
    "glance-format-check-on": ["sp-vmware-flat-vmdk", "require_image_format_match is on"],
    "vmdk-flat-image-labelled-thin": ["sp-vmware-flat-vmdk", "says vmware_disktype=thin but is a flat extent"],
    # Workload checks: each text holds a runtime value (an image, a size, vCenter's answer), so it cannot match
    # the source line that would print it.
    "vmdk-image-unknown-adapter": ["vmware_adaptertype=virtio-scsi (images sp-vmware-stream-vmdk)",
                                   "root disk on VirtualLsiLogicController"],
    "vmdk-image-cache-ages-at-once": {
        "SP-VMDK-004": ["copied it from Glance again", "cached disk removed"],
        "SP-VMDK-008": ["datastore sp-vmfs-shared", "vmware-1: [image_cache] manager_interval=1"],
    },
    "vcenter-exports-flat-disks": ["is not a streamOptimized VMDK", "bytes: a flat extent (no VMDK header"],
}
READONLY = {"vmware-computes-disagree-on-linked-clone", "vmware-computes-disagree-on-cache-prefix",
            "glance-format-check-on", "vmdk-flat-image-labelled-thin"}


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green_three_times(lab, tmp_path: Path) -> None:
    assert_green_three_times(lab, AREA, tmp_path)


@pytest.mark.parametrize("fault", sorted(EVIDENCE))
def test_fault_turns_exactly_its_controls_red(lab, fault: str, tmp_path: Path) -> None:
    if fault not in lab_faults():
        pytest.fail(f"the lab has no fault {fault!r} yet: add it to stackproof_lab/faults.py")
    prove(lab, AREA, fault, EVIDENCE[fault], tmp_path, limit=150.0, tier="smoke" if fault in READONLY else None)
