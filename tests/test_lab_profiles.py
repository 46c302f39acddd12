"""The lab's two profiles (stackproof_lab/topology.py): the whole lab, and an overcloud that is the same declared
lab, smaller, placed inside the whole lab's instances. What each declares, and the target files that describe a
lab with an overcloud in it, validated by the engine's own schema. No lab runs here."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from stackproof.target import Target
from stackproof_lab import ssh, target, topology
from stackproof_lab.layout import REPO, Layout

PUBLISHED = "198.51.100.75"  # the controller's floating IP on the whole lab's external network

# Run in the overcloud profile (chosen when the lab's modules are imported): what it renders and describes.
OVERCLOUD_VIEW = """
import json
from stackproof_lab import configs, layout, provision, services, target, topology
lab = layout.current()
configs.write_all(lab, {})
print(json.dumps({
    "hosts": [{"name": h.name, "roles": list(h.roles), "address": h.address(lab),
               "tunnel": h.tunnel_address(lab)} for h in topology.TOPOLOGY.hosts],
    "services": [s.name for s in services.SERVICES],
    "configs": [c.id for c in configs.FILES],
    "compute": configs.sections(lab, "nova-oc-kvm-1"),
    "neutron": configs.sections(lab, "neutron"),
    "agent": configs.sections(lab, "nsx-agent-oc-kvm-2"),
    "keystone_public": lab.public_url("keystone", "/v3"), "keystone_internal": lab.url("keystone", "/v3"),
    "images": [i["name"] for i in provision.IMAGES], "catalog": [c[1] for c in provision.CATALOG],
    "description": target.description(lab),
}))
"""


def _overcloud(tmp_path: Path) -> dict:
    state = tmp_path / "overcloud"
    state.mkdir()
    (state / "placement.json").write_text(json.dumps({"published": PUBLISHED, "hosts": {}}))
    env = {**os.environ, topology.PROFILE_ENV: topology.OVERCLOUD, "STACKPROOF_LAB_DIR": str(state),
           "STACKPROOF_LAB_PORT_BASE": "27000"}
    result = subprocess.run([sys.executable, "-c", OVERCLOUD_VIEW], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_overcloud_is_a_controller_and_two_kvm_computes_on_its_own_subnet(tmp_path: Path) -> None:
    view = _overcloud(tmp_path)
    assert [(h["name"], h["roles"]) for h in view["hosts"]] == [
        ("oc-controller", ["controller", "scheduler"]), ("oc-kvm-1", ["compute-kvm"]), ("oc-kvm-2", ["compute-kvm"])]
    own = Layout(tmp_path, 27000).mgmt_network
    assert own != Layout(tmp_path, 26000).mgmt_network  # the whole lab's, at the default port base
    assert all(ipaddress.ip_address(h["address"]) in own for h in view["hosts"])
    # Its tunnels run between its hosts' own addresses (their instances' NICs), not on a TEP network of its own.
    assert all(h["tunnel"] == h["address"] for h in view["hosts"])
    assert not {"vcenter", "cinder-api", "cinder-volume", "nfs-ganesha"} & set(view["services"])
    assert {"keystone", "nova-api", "neutron-api", "nsx-manager", "nova-compute-oc-kvm-2"} <= set(view["services"])
    assert not [c for c in view["configs"] if c.startswith(("cinder", "ganesha")) or "vmware" in c]
    assert view["images"] == ["sp-qemu-qcow2"] and "volumev3" not in view["catalog"]


def test_the_overcloud_runs_qemu_within_the_undercloud_mtu_and_publishes_on_its_floating_ip(tmp_path: Path) -> None:
    view = _overcloud(tmp_path)
    assert view["compute"]["libvirt"]["virt_type"] == "qemu"
    # Its Geneve segments ride an undercloud tenant network of 1500: the path's MTU is that, tenants get 50 less.
    assert int(view["neutron"]["DEFAULT"]["global_physnet_mtu"]) == topology.TENANT_MTU
    assert view["neutron"]["nova"]["endpoint_type"] == "internal"
    assert view["agent"]["overlay"]["local_tep"] == next(h["address"] for h in view["hosts"] if h["name"] == "oc-kvm-2")
    assert view["keystone_public"] == f"http://{PUBLISHED}:27000/v3"
    assert view["keystone_internal"] == f"http://{view['hosts'][0]['address']}:27000/v3"
    described = view["description"]
    assert "vcenters" not in described and set(described["hosts"]) == {"controller", "scheduler", "compute-kvm"}
    assert described["nsx"]["url"] == f"https://{PUBLISHED}:27020"
    assert described["architecture"]["nsx"]["overlay_mtu"] == topology.TENANT_MTU - 50
    Target.model_validate(described)  # the engine's strict schema: the overcloud is a target of its own


def _with_overcloud(tmp_path: Path) -> Layout:
    lab = Layout(tmp_path, 26000)
    over = tmp_path / "overcloud"
    (over / "ssh").mkdir(parents=True)
    placed = {"oc-controller": ["controller", "scheduler"], "oc-kvm-1": ["compute-kvm"], "oc-kvm-2": ["compute-kvm"]}
    (over / "placement.json").write_text(json.dumps({"published": PUBLISHED, "hosts": {
        name: {"roles": roles, "compute": "kvm-1", "run": str(lab.run), "netns": "vm-0123456789a"}
        for name, roles in placed.items()}}))
    entry = {"auth": {"auth_url": f"http://{PUBLISHED}:27000/v3", "username": "admin", "password": "x"}}
    (over / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {target.OVERCLOUD_ADMIN_CLOUD: entry}}))
    (over / "ssh" / "config").write_text("Host oc-controller\n")
    (over / "ssh" / "known_hosts").write_text(f"oc-controller,{PUBLISHED} ssh-ed25519 AAAA\n")
    return lab


def test_a_lab_with_an_overcloud_describes_both_clouds_and_the_nesting(tmp_path: Path) -> None:
    lab = _with_overcloud(tmp_path)
    described = target.description(lab)
    assert described["clouds"]["undercloud"] == target.ADMIN_CLOUD
    assert described["clouds"]["overcloud"] == target.OVERCLOUD_ADMIN_CLOUD
    assert target.OVERCLOUD_ADMIN_CLOUD in target.clouds(lab)["clouds"]
    assert described["hosts"]["overcloud-controller"]["urls"] == ["ssh://oc-controller"]
    assert described["hosts"]["overcloud-compute"]["urls"] == ["ssh://oc-kvm-1", "ssh://oc-kvm-2"]
    nested = described["architecture"]["nested"]
    assert nested["network_mode"] == "overlay" and nested["overcloud_compute_roles"] == ["overcloud-compute"]
    Target.model_validate(described)
    # One ssh setup reaches both clouds' hosts: the overcloud's config included, its host keys known.
    assert f"Include {tmp_path / 'overcloud' / 'ssh' / 'config'}" in ssh.client_config(lab)


def test_a_lab_without_an_overcloud_describes_no_nesting(tmp_path: Path) -> None:
    described = target.description(Layout(tmp_path, 26000))
    assert "nested" not in described["architecture"] and "undercloud" not in described["clouds"]
    assert "overcloud-compute" not in described["hosts"]
    assert "Include" not in ssh.client_config(Layout(tmp_path, 26000))
