"""tempest.conf for a cloud (tests/tempest/tempest_conf.py): skips follow from what the cloud lacks, each
under a comment saying why; what the cloud has is never turned off."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tempest"))

import tempest_conf

FULL = tempest_conf.CloudFacts(
    auth_url="https://keystone.example:5000/v3", region="RegionOne",
    admin={"username": "admin", "password": "s3cret", "project_name": "admin", "user_domain_name": "Default",
           "project_domain_name": "Default"},
    catalog_types=frozenset({"compute", "image", "network", "volumev3", "object-store", "dashboard", "key-manager"}),
    image_id="img-1", image_name="cirros", flavors=(("f1", "tiny"), ("f2", "small")), network="shared",
    external_network="ext-1", image_hosts=("kvm-1", "kvm-2"), other_hosts=("vmware-1", "vmware-2"),
    network_extensions=("router", "security-group"), volume_extensions=("backups",),
    volume_services=frozenset({"cinder-volume", "cinder-backup"}),
)


def _lines(facts: tempest_conf.CloudFacts) -> list[str]:
    return tempest_conf.render(tempest_conf.options(facts, Path("/work"))).splitlines()


def test_a_cloud_with_everything_gets_no_skip_flag() -> None:
    found = tempest_conf.options(FULL, Path("/work"))
    assert tempest_conf.skips(found) == []
    assert {"swift = true", "flavor_ref_alt = f2", "public_network_id = ext-1"} <= set(_lines(FULL))
    # The multinode test boots on both KVM hosts and leaves the VMware ones (another image family) out.
    assert {"min_compute_nodes = 2", "target_hosts_to_avoid = vmware-"} <= set(_lines(FULL))


def test_each_missing_part_is_a_skip_flag_under_the_reason_for_it() -> None:
    lacking = replace(FULL, catalog_types=frozenset({"compute", "image", "network", "volumev3"}),
                      network_extensions=("security-group",), volume_services=frozenset({"cinder-volume"}),
                      external_network="", image_hosts=("kvm-1",))
    lines = _lines(lacking)
    flags = {"swift = false", "horizon = false", "create_isolated_networks = false", "floating_ips = false",
             "attach_encrypted_volume = false", "backup = false", "api_extensions = security-group",
             "public_network_id = ", "min_compute_nodes = 1"}
    assert flags <= set(lines)
    for flag in flags:
        assert lines[lines.index(flag) - 1].startswith("# Skip: "), flag
    assert len(tempest_conf.skips(tempest_conf.options(lacking, Path("/work")))) == len(flags)
    lab = tempest_conf.render(tempest_conf.LAB_LIMITS)
    assert "# Skip: tempest's validation logs in as the image's user" in lab
    assert "project_network_cidr = 203.0.113.0/24" in lab, "the lab's addresses come from documentation ranges"
