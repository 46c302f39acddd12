"""Detection proof for the block storage area: every lab fault that a block storage control exists to catch
turns exactly that control red, with the faulty object named, and clearing it turns the area green again."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection import assert_every_fault_has_proof, assert_green, plan, prove_batch

pytestmark = [pytest.mark.detection, pytest.mark.lab]

AREA = "block_storage"

# fault -> control -> texts its failure message must contain (the faulty object and what is wrong with it)
EVIDENCE = {
    "cinder-volume-stopped": {
        "SP-BLK-001": ["lab-storage@lab-kvm down", "lab-storage@lab-vmdk down"],
        # Workload checks: each text holds a runtime value (a volume, cinder's answer), so it cannot match the
        # check's own source, which a failure message carries too.
        "SP-BLK-006": ["a kvm-default volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-007": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-008": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-009": ["volume from image sp-qemu-qcow2 could not be created",
                       "volume from image sp-vmware-sparse-vmdk could not be created"],
        "SP-BLK-012": ["a kvm-default volume from image sp-", "a vmdk-thin volume from image sp-",
                       "Could not find any available weighted backend"],
    },
    "vmdk-backend-stopped": {
        "SP-BLK-001": ["lab-storage@lab-vmdk", "lab-storage@lab-vmdk down/enabled"],
        "SP-BLK-007": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-008": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-009": ["volume from image sp-vmware-sparse-vmdk could not be created", "on backend lab-vmdk"],
        "SP-BLK-012": ["a vmdk-thin volume from image sp-", "Could not find any available weighted backend"],
    },
    "vmdk-type-on-kvm-backend": {
        "SP-BLK-002": ["volume type vmdk-thin", "volume_backend_name=lab-kvm"],
        # The type's zone (az-vmware) holds no lab-kvm backend: cinder refuses every vmdk-thin volume.
        "SP-BLK-007": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-008": ["a vmdk-thin volume could not be created", "Could not find any available weighted backend"],
        "SP-BLK-009": ["volume from image sp-vmware-sparse-vmdk could not be created",
                       "Could not find any available weighted backend"],
        "SP-BLK-012": ["a vmdk-thin volume from image sp-", "Could not find any available weighted backend"],
    },
    "cinder-vcenter-address-differs": {"SP-BLK-003": ["[lab-vmdk]", "vmware_host_ip=vcenter"]},
    "datastore-unshared": {"SP-BLK-004": ["sp-vmfs-1", "mounted=False"]},
    "data-nic-down": {
        "SP-BLK-005": ["data NIC spdata0 is down", "operstate=DOWN"],
        "SP-BLK-006": ["did not attach to server", "VolumeAttachFailed"],
        # nova reschedules a build that failed on the host (the other KVM host fails the same way).
        "SP-BLK-009": ["a server from a volume did not boot on kvm-", "Exhausted all hosts available"],
        "SP-BLK-012": ["of 4 servers booted from kvm-default volumes", "Exhausted all hosts available"],
    },
    "data-nic-mtu-1500": {"SP-BLK-005": ["spdata0", "mtu=1500"]},
    "volume-zones-not-followed": {
        "SP-BLK-011": ["kvm-default: a server booted from a volume in az-kvm is not kept",
                       "vmdk-thin: a server booted from a volume in az-vmware is not kept", "cross_az_attach is true"],
        # Whichever family the scheduler prefers, the other family's servers land there and the build aborts.
        "SP-BLK-012": ["of 4 servers booted from", "not in the same availability_zone"],
    },
    "kvm-2-data-nic-down": {"SP-BLK-005": ["kvm-2", "data NIC spdata0 is down"]},
    "vmware-cluster-fronted-twice": {
        "SP-BLK-003": ["vmware-1-twin", "not in the target's inventory"],
        "SP-BLK-005": ["vmware-1-twin", "not in the target's inventory"],
        "SP-BLK-010": ["compute zone(s) nova have no cinder zone"],
    },
}
# Faults whose effect reaches past their own controls: proven alone.
SOLO = frozenset({"cinder-volume-stopped", "data-nic-down"})


def test_every_lab_fault_for_this_area_has_its_proof() -> None:
    assert_every_fault_has_proof(AREA, EVIDENCE)


def test_healthy_lab_runs_the_area_green(lab, tmp_path: Path) -> None:
    assert_green(lab, AREA, tmp_path, tier="full")


@pytest.mark.parametrize("batch", plan(AREA, EVIDENCE, SOLO), ids=lambda batch: batch.id)
def test_faults_turn_exactly_their_controls_red(lab, batch, tmp_path: Path) -> None:
    prove_batch(lab, AREA, batch, EVIDENCE, tmp_path)
