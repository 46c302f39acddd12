"""Detection proof for the vmdk area: every lab fault that a vmdk control exists to catch turns exactly that control
red, with the faulty object named, and clearing it turns the area green again.

Faults whose controls are disjoint are proven together (detection.plan): the readonly ones with the area's readonly
checks alone (seconds), the workload ones in as few runs as their controls allow, since every workload run of
this area moves images from Glance to the datastores."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "vmdk"
LIMIT = 150.0  # a workload run of the area boots a few servers per format on a shared machine

# fault -> texts the failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "vmware-computes-disagree-on-linked-clone": ["datastore sp-vmfs-shared",
                                                 "vmware-2: [vmware] use_linked_clone=False",
                                                 "vmware-1: [vmware] use_linked_clone=True"],
    "vmware-computes-disagree-on-cache-prefix": ["datastore sp-vmfs-shared", "[vmware] cache_prefix=vmware-2-",
                                                 "cache folder vmware-2-_base"],
    # The twin compute's nova.conf is on no host of the inventory: its settings cannot be compared.
    "vmware-cluster-fronted-twice": ["vmware-1-twin", "not in the target's inventory"],
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


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green(lab, tmp_path: Path) -> None:
    # The readonly checks only: the workload batch below runs every workload check of the area with its faults
    # (each control outside the batch must pass) and its own controls again once they are cleared; a full run
    # here would add minutes of image transfers and prove nothing those do not.
    assert_green(lab, AREA, tmp_path, tier="smoke")


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(lab, batch, tmp_path: Path) -> None:
    prove_batch(lab, AREA, batch, EVIDENCE, tmp_path, limit=LIMIT)
