"""Lab self-test: the lab's OpenStack is real, schedules by image metadata, and its faults bite."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import time
import uuid

import pytest
import yaml

pytestmark = pytest.mark.lab

RUN = uuid.uuid4().hex[:8]
KVM_HOSTS = {"kvm-1", "kvm-2"}
RSS_BUDGET = int(4.5 * 2**30)
TIMINGS: dict[str, float] = {}


def test_second_up_is_quick_and_changes_nothing(lab) -> None:
    began = time.monotonic()
    result = lab.run("up", timeout=60)
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert took < 5, f"second up took {took:.1f}s, expected < 5s:\n{result.stdout}"
    assert "total" in result.stdout.splitlines()[-1]


def test_status_shows_every_service_healthy_within_rss_budget(lab) -> None:
    status = lab.status()
    unhealthy = {row["service"]: row["health"] for row in status["services"] if row["health"] != "up"}
    assert not unhealthy, f"services not healthy: {unhealthy}"
    assert all(row["pid"] and row["rss"] > 0 for row in status["services"])
    assert status["total_rss"] < RSS_BUDGET, f"total RSS {status['total_rss'] / 2**30:.2f} GB > 4.5 GB"
    assert {"vcenter", "nova-compute-vmware-1", "nova-compute-vmware-2"} <= {
        row["service"] for row in status["services"]
    }


def _ssh(lab, host: str, command: str) -> str:
    """Run a command on a lab host over real ssh, with the files the target names (no host key skipped)."""
    target = yaml.safe_load(lab.target_yaml.read_text())
    access = target["ssh"]
    result = subprocess.run(["ssh", "-F", access["config"], "-i", access["identity_file"], "-o",
                             f"UserKnownHostsFile={access['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
                             host, command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"ssh {host} {command!r}: exit {result.returncode}: {result.stderr}"
    return result.stdout


def test_target_description_names_ssh_hosts_and_production_paths(lab) -> None:
    target = yaml.safe_load(lab.target_yaml.read_text())
    assert target["clouds_yaml"] == str(lab.clouds_yaml)
    assert set(yaml.safe_load(lab.clouds_yaml.read_text())["clouds"]) == {"sp-lab-admin", "sp-lab-member"}
    assert target["hosts"]["compute-kvm"]["urls"] == ["ssh://kvm-1", "ssh://kvm-2"]
    assert target["hosts"]["compute-vmware"]["urls"] == ["ssh://vmware-1", "ssh://vmware-2"]
    assert target["hosts"]["compute-vmware"]["config"] == {"nova": "/etc/nova/nova.conf"}
    for role in target["hosts"].values():
        assert all(url.startswith("ssh://") for url in role["urls"]), role
        for path in role["config"].values():
            assert path.startswith("/etc/"), path
            for url in role["urls"]:
                assert _ssh(lab, url.removeprefix("ssh://"), f"head -1 {path}").startswith("# Written by"), (url, path)
    config = (lab.state / "ssh" / "config").read_text()
    assert "StrictHostKeyChecking yes" in config and "StrictHostKeyChecking no" not in config
    # The vCenter password lives in secure.yaml (owner-only), the target file only refers to it.
    secure = lab.state / "secure.yaml"
    assert target["secure_yaml"] == str(secure) and secure.stat().st_mode & 0o077 == 0
    assert yaml.safe_load(secure.read_text())["vcenters"]["vc1"]["password"]
    assert target["vcenters"]["vc1"]["password"] == {"secure": "vcenters.vc1.password"}
    ca_bundle = target["vcenters"]["vc1"]["ca_bundle"]
    with open(ca_bundle) as ca:
        assert ca.read().startswith("-----BEGIN CERTIFICATE-----"), ca_bundle


def test_each_compute_is_a_host_of_its_own_with_its_own_nova_conf(lab) -> None:
    target = yaml.safe_load(lab.target_yaml.read_text())
    identities = {}
    for role in ("compute-kvm", "compute-vmware"):
        for url in target["hosts"][role]["urls"]:
            host = url.removeprefix("ssh://")
            conf = configparser.ConfigParser(interpolation=None, strict=False)
            conf.read_string(_ssh(lab, host, "cat /etc/nova/nova.conf"))
            identities[host] = conf.get("DEFAULT", "host")
            assert _ssh(lab, host, "hostname").strip() == host
            # Its own processes only (a PID namespace): its nova-compute, its sshd, nobody else's.
            processes = _ssh(lab, host, "ps -eo args")
            assert processes.count("nova-compute --config-file /etc/nova/nova.conf") == 1, processes
            assert "nova-api" not in processes and "mariadbd" not in processes, processes
    assert identities == {"kvm-1": "kvm-1", "kvm-2": "kvm-2", "vmware-1": "vmware-1", "vmware-2": "vmware-2"}


def test_unknown_host_key_is_refused(lab, tmp_path) -> None:
    target = yaml.safe_load(lab.target_yaml.read_text())
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    # A fresh connection (no multiplexed master of an earlier one), verified against an empty known_hosts.
    result = subprocess.run(["ssh", "-F", target["ssh"]["config"], "-o", f"UserKnownHostsFile={empty}",
                             "-o", "ControlPath=none", "kvm-1", "true"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 255 and "Host key verification failed" in result.stderr, result.stderr


def test_every_service_answers_through_openstacksdk(lab) -> None:
    admin = lab.connect("sp-lab-admin")
    assert {p.name for p in admin.identity.projects()} >= {"admin", "service", "sp-member"}
    assert {i.name for i in admin.image.images()} >= {"sp-qemu-qcow2", "sp-vmware-sparse-vmdk"}
    assert {f.name for f in admin.compute.flavors()} >= {"sp.tiny", "sp.small"}
    assert admin.network.find_network("sp-net") is not None
    assert {"kvm-default", "vmdk-thin"} <= {t.name for t in admin.block_storage.types()}
    assert {rp.name for rp in admin.placement.resource_providers()} >= KVM_HOSTS
    hypervisors = {h.name: h.hypervisor_type for h in admin.compute.hypervisors(details=True)}
    assert {hypervisors.get(h) for h in KVM_HOSTS} == {"QEMU"}, hypervisors
    services = {(s.binary, s.host): s.state for s in admin.compute.services()}
    assert all(state == "up" for state in services.values()), services
    volume_services = {(s.binary, s.host): s.state for s in admin.block_storage.services()}
    assert volume_services.get(("cinder-volume", "lab-storage@lab-kvm")) == "up", volume_services
    assert volume_services.get(("cinder-volume", "lab-storage@lab-vmdk")) == "up", volume_services
    aggregate = next(a for a in admin.compute.aggregates() if a.name == "kvm")
    assert set(aggregate.hosts) == KVM_HOSTS and aggregate.metadata.get("img_hv_type") == "qemu"


@pytest.fixture(scope="module")
def kvm_server(lab, member):
    with lab.server(member, f"sp-labtest-{RUN}", image="sp-qemu-qcow2") as server:
        TIMINGS["server_active"] = server.boot_seconds
        yield server


def test_qcow2_server_lands_on_the_kvm_aggregate(lab, kvm_server) -> None:
    admin = lab.connect("sp-lab-admin")
    server = admin.compute.get_server(kvm_server.id)
    assert server.status == "ACTIVE"
    assert server.compute_host in KVM_HOSTS, f"landed on {server.compute_host}"
    print(f"qcow2 server ACTIVE on {server.compute_host} after {TIMINGS['server_active']:.1f}s")


def test_volume_attaches_to_and_detaches_from_a_kvm_server(lab, member, kvm_server) -> None:
    admin = lab.connect("sp-lab-admin")
    volume = member.block_storage.create_volume(size=1, name=f"sp-labtest-{RUN}", volume_type="kvm-default")
    try:
        volume = member.block_storage.wait_for_status(volume, "available", wait=60, interval=1)
        member.compute.create_volume_attachment(kvm_server, volume=volume)
        volume = member.block_storage.wait_for_status(volume, "in-use", wait=60, interval=1)
        # host_name is shown to admins only (cinder hides the host from project users).
        seen = admin.block_storage.get_volume(volume.id)
        assert seen.host == "lab-storage@lab-kvm#lab-kvm"
        assert seen.attachments[0]["server_id"] == kvm_server.id
        assert seen.attachments[0]["host_name"] == admin.compute.get_server(kvm_server.id).compute_host
        member.compute.delete_volume_attachment(kvm_server, volume)
        volume = member.block_storage.wait_for_status(volume, "available", wait=60, interval=1)
        assert not volume.attachments
    finally:
        current = member.block_storage.find_volume(volume.id, ignore_missing=True)
        if current is not None and current.attachments:
            member.compute.delete_volume_attachment(kvm_server, current, ignore_missing=True)
            member.block_storage.wait_for_status(current, "available", wait=60, interval=1)
        member.block_storage.delete_volume(volume, ignore_missing=True)
        member.block_storage.wait_for_delete(volume, wait=60, interval=1)


def test_boot_from_volume_on_kvm(lab, member) -> None:
    image = member.image.find_image("sp-qemu-qcow2", ignore_missing=False)
    flavor = member.compute.find_flavor("sp.tiny", ignore_missing=False)
    mapping = {
        "boot_index": 0,
        "uuid": image.id,
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": 1,
        "delete_on_termination": True,
    }
    server = member.compute.create_server(
        name=f"sp-labtest-bfv-{RUN}", flavor_id=flavor.id, networks="none", block_device_mapping_v2=[mapping]
    )
    try:
        server = member.compute.wait_for_server(server, status="ACTIVE", wait=180, interval=1)
        assert len(server.attached_volumes) == 1
        volume = member.block_storage.get_volume(server.attached_volumes[0]["id"])
        assert volume.is_bootable and volume.volume_image_metadata["image_id"] == image.id
    finally:
        member.compute.delete_server(server, ignore_missing=True)
        member.compute.wait_for_delete(server, wait=60, interval=1)
    boot_volumes = {a["id"] for a in server.attached_volumes}
    lab.wait_until(
        lambda: not [v for v in member.block_storage.volumes() if v.id in boot_volumes],
        timeout=60,
        what="the boot volume to be deleted with its server (delete_on_termination)",
    )


def test_vmdk_image_with_a_kvm_pinned_flavor_finds_no_valid_host(lab, member) -> None:
    # sp.tiny.kvm wants img_hv_type=qemu aggregates (AggregateInstanceExtraSpecsFilter), the image wants
    # vmware ones (AggregateImagePropertiesIsolation) and VMDK support (placement): no host has all three.
    with lab.server(member, f"sp-labtest-vmdk-{RUN}", image="sp-vmware-sparse-vmdk", flavor="sp.tiny.kvm",
                    network=None, status="ERROR", wait=60) as server:
        assert "No valid host" in (server.fault or {}).get("message", "")


def test_fault_registry_lists_faults_with_control_ids(lab) -> None:
    result = lab.run("fault", "list", "--json")
    assert result.returncode == 0, result.stderr
    faults = json.loads(result.stdout)
    names = [f["name"] for f in faults]
    assert len(names) == len(set(names))
    assert {
        "cinder-volume-stopped",
        "kvm-1-killed",
        "kvm-aggregate-key-ignored",
        "isolation-filter-removed",
        "report-interval-too-long",
        "vmware-1-killed",
        "vcenter-stopped",
        "drs-partially-automated",
        "datastore-unshared",
        "host-in-maintenance",
    } <= set(names)
    for fault in faults:
        assert fault["description"] and fault["controls"]
        assert all(re.fullmatch(r"SP-[A-Z]+-\d{3}", c) for c in fault["controls"]), fault


def test_killed_compute_goes_down_and_comes_back_after_clear(lab) -> None:
    admin = lab.connect("sp-lab-admin")

    def kvm1_state() -> str:
        return next(s.state for s in admin.compute.services(binary="nova-compute") if s.host == "kvm-1")

    assert kvm1_state() == "up"
    began = time.monotonic()
    injected = lab.run("fault", "inject", "kvm-1-killed")
    try:
        assert injected.returncode == 0, injected.stderr
        assert "kvm-1-killed" in lab.status()["faults"]
        assert lab.run("fault", "inject", "kvm-1-killed").returncode == 0  # idempotent
        lab.wait_until(lambda: kvm1_state() == "down", timeout=40, what="nova to report kvm-1's compute down")
        print(f"kvm-1 reported down {time.monotonic() - began:.1f}s after SIGKILL")
    finally:
        cleared = lab.run("fault", "clear", "kvm-1-killed", timeout=180)
    assert cleared.returncode == 0, cleared.stderr
    lab.wait_until(lambda: kvm1_state() == "up", timeout=40, what="nova to report kvm-1's compute up again")
    assert "kvm-1-killed" not in lab.status()["faults"]
    assert "not active" in lab.run("fault", "clear", "kvm-1-killed").stdout  # idempotent


def test_aggregate_key_fault_renames_the_metadata_key_and_clear_restores_it(lab) -> None:
    admin = lab.connect("sp-lab-admin")

    def metadata() -> dict:
        # Only the image-property keys: the aggregate also carries its availability zone.
        found = next(a for a in admin.compute.aggregates() if a.name == "kvm").metadata
        return {key: value for key, value in found.items() if key in ("hypervisor_type", "img_hv_type")}

    assert lab.run("fault", "inject", "kvm-aggregate-key-ignored").returncode == 0
    try:
        assert metadata() == {"hypervisor_type": "qemu"}
    finally:
        assert lab.run("fault", "clear", "kvm-aggregate-key-ignored").returncode == 0
    assert metadata() == {"img_hv_type": "qemu"}


def test_unknown_names_give_one_line_and_non_zero_exit(lab) -> None:
    for args in (("fault", "inject", "no-such-fault"), ("logs", "no-such-service")):
        result = lab.run(*args)
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
