"""The target description: strict validation, one-line errors with the key and the line, secret references."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackproof import target
from stackproof.errors import TargetError
from stackproof.plugin.hosts import ssh_options

DRS_LINE = 20  # the line of `drs:` in VALID below

VALID = """\
name: prod-east
clouds_yaml: clouds.yaml
clouds:
  cloud: east-admin
vcenters:
  vc1:
    url: https://vc1.example.net/sdk
    user: svc-stackproof
    password: {env: SP_TEST_VC_PASSWORD}
    ca_bundle: ca.pem
hosts:
  scheduler:
    urls: ["ssh://ctl-1", "ssh://ctl-2"]
    config: {nova: /etc/nova/nova.conf}
architecture:
  aggregates:
    - {name: kvm, hypervisor_type: QEMU}
    - {name: vmware, hypervisor_type: VMware vCenter Server}
  image_policy: {isolation: [aggregate_image_properties_isolation]}
  drs: {enabled: true, behavior: fullyAutomated}
  datastore_pattern: "^vmfs-"
  data_network: {nic: data0, mtu: 9000}
  failover: {service_down_time: 60, report_interval: 10}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "clouds.yaml").write_text("clouds: {}\n")
    (tmp_path / "ca.pem").write_text("not a real CA\n")
    path = tmp_path / "stackproof.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(TargetError) as info:
        target.load(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message, "a target error must be one line"
    return message


def test_valid_target_loads_and_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    loaded = target.load(write(tmp_path, VALID))
    assert loaded.name == "prod-east"
    assert loaded.clouds_yaml == tmp_path / "clouds.yaml"
    assert loaded.vcenters["vc1"].verify == str(tmp_path / "ca.pem")
    assert [a.name for a in loaded.architecture.aggregates] == ["kvm", "vmware"]
    assert loaded.timeouts.get("server_active") == 300.0
    assert loaded.timeouts.get("no_such_wait") == loaded.timeouts.default


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("behavior: fullyAutomated", "behaviour: fullyAutomated"))
    assert f"stackproof.yaml:{DRS_LINE}:" in message
    assert "architecture.drs.behaviour" in message
    assert "unknown key" in message


def test_bad_enum_value_names_key_and_allowed_values(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("behavior: fullyAutomated", "behavior: automatic"))
    assert f":{DRS_LINE}:" in message and "architecture.drs.behavior" in message and "fullyAutomated" in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("  cloud: east-admin\n", "  member: east-member\n"))
    assert "clouds.cloud" in message and "required key is missing" in message


def test_password_written_in_the_file_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("{env: SP_TEST_VC_PASSWORD}", "hunter2-literal"))
    assert "vcenters.vc1.password" in message and "never written in the target file" in message
    assert "hunter2-literal" not in message


def test_bad_regex_and_bad_host_url(tmp_path: Path) -> None:
    assert "datastore_pattern" in error_of(tmp_path, VALID.replace('"^vmfs-"', '"^vmfs-("'))
    message = error_of(tmp_path, VALID.replace("ssh://ctl-2", "ctl-2"))
    assert "hosts.scheduler.urls" in message and "testinfra backend URL" in message


def test_insecure_and_ca_bundle_exclude_each_other(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("    ca_bundle: ca.pem", "    ca_bundle: ca.pem\n    insecure: true"))
    assert "vcenters.vc1" in message and "exclude each other" in message


def test_broken_yaml_gives_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("clouds:\n  cloud", "clouds:\n cloud: [\n  cloud"))
    assert "stackproof.yaml:" in message and "not valid YAML" in message


def test_secret_references_resolve_from_env_and_secure_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = target.load(write(tmp_path, VALID))
    ref = loaded.vcenters["vc1"].password
    monkeypatch.delenv("SP_TEST_VC_PASSWORD", raising=False)
    with pytest.raises(TargetError, match="SP_TEST_VC_PASSWORD is not set"):
        loaded.secret(ref, "vcenters.vc1.password")
    monkeypatch.setenv("SP_TEST_VC_PASSWORD", "from-env-123")
    assert loaded.secret(ref, "vcenters.vc1.password") == "from-env-123"
    (tmp_path / "secure.yaml").write_text("vcenters:\n  vc1: {password: from-secure-456}\n")
    text = VALID.replace("{env: SP_TEST_VC_PASSWORD}", "{secure: vcenters.vc1.password}")
    loaded = target.load(write(tmp_path, "secure_yaml: secure.yaml\n" + text))
    assert loaded.secret(loaded.vcenters["vc1"].password, "x") == "from-secure-456"


def test_cli_validate_bad_file_is_one_line_and_exit_4(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("name: prod-east", "name: prod east!"))
    result = subprocess.run([sys.executable, "-m", "stackproof.cli", "validate", "--target", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "stackproof.yaml:1: name:" in lines[0]


def test_no_target_and_no_lab_says_how_to_start_the_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKPROOF_TARGET", raising=False)
    monkeypatch.setenv("STACKPROOF_LAB_DIR", str(tmp_path / "no-lab"))
    with pytest.raises(TargetError, match="stackproof lab up"):
        target.locate(None, tmp_path)


SSH = """\
ssh:
  config: ssh/config
  known_hosts: ssh/known_hosts
  identity_file: ssh/id_ed25519
"""


def test_ssh_access_resolves_relative_to_the_file_and_always_verifies_host_keys(tmp_path: Path) -> None:
    (tmp_path / "ssh").mkdir()
    for name in ("config", "known_hosts", "id_ed25519"):
        (tmp_path / "ssh" / name).write_text("x\n")
    loaded = target.load(write(tmp_path, VALID + SSH))
    assert loaded.ssh.known_hosts == tmp_path / "ssh" / "known_hosts"
    assert loaded.ssh.config == tmp_path / "ssh" / "config"

    options = ssh_options(loaded.ssh)
    assert options["ssh_config"] == str(tmp_path / "ssh" / "config")
    assert options["ssh_identity_file"] == str(tmp_path / "ssh" / "id_ed25519")
    assert f"-o UserKnownHostsFile={tmp_path / 'ssh' / 'known_hosts'}" in options["ssh_extra_args"]
    assert "-o StrictHostKeyChecking=yes" in options["ssh_extra_args"]
    assert "-o ServerAliveInterval=10 -o ServerAliveCountMax=3" in options["ssh_extra_args"]
    assert ssh_options(None) == {}


def test_ssh_section_needs_known_hosts_and_existing_files(tmp_path: Path) -> None:
    assert "ssh.known_hosts: required key is missing" in error_of(tmp_path, VALID + "ssh: {config: c}\n")
    message = error_of(tmp_path, VALID + "ssh: {known_hosts: nowhere}\n")
    assert "ssh.known_hosts: file not found" in message and "nowhere" in message


NSX = """\
nsx:
  url: https://nsx.example.net
  user: svc-stackproof
  password: {env: SP_TEST_NSX_PASSWORD}
  ca_bundle: ca.pem
"""
NSX_DESIGN = "  nsx: {transport_zone: overlay-tz, overlay_mtu: 1500}\n"


def test_nsx_manager_and_design(tmp_path: Path) -> None:
    loaded = target.load(write(tmp_path, VALID + NSX_DESIGN + NSX))
    design = loaded.architecture.nsx
    assert (design.transport_zone, design.overlay_mtu) == ("overlay-tz", 1500)
    # What an NSX-T deployment has unless the operator says otherwise.
    assert (design.kvm_bridge, design.enforcement_seconds, design.external_network) == ("nsx-managed", 10.0, None)
    assert str(loaded.nsx.verify).endswith("ca.pem") and loaded.nsx.user == "svc-stackproof"
    assert target.load(write(tmp_path, VALID)).architecture.nsx is None, "no design: the nsx area is not evaluated"


def test_nsx_design_is_validated(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID + NSX_DESIGN.replace("1500", "65000"))
    assert "architecture.nsx.overlay_mtu" in message and "9000" in message
    message = error_of(tmp_path, VALID + NSX_DESIGN.replace("overlay_mtu", "mtu"))
    assert "architecture.nsx" in message
    message = error_of(tmp_path, VALID + "  nsx: {transport_zone: tz, overlay_mtu: 1500, enforcement_seconds: 0}\n")
    assert "architecture.nsx.enforcement_seconds" in message and "greater than 0" in message
    message = error_of(tmp_path, VALID + NSX.replace("{env: SP_TEST_NSX_PASSWORD}", "literal-nsx-pw"))
    assert "nsx.password" in message and "literal-nsx-pw" not in message


NESTED = """\
  nested:
    network_mode: vlan
    undercloud_compute_roles: [scheduler]
"""


def test_nested_design_needs_both_clouds_and_known_roles(tmp_path: Path) -> None:
    both = VALID.replace("  cloud: east-admin\n",
                         "  cloud: east-admin\n  undercloud: uc-admin\n  overcloud: oc-admin\n")
    design = target.load(write(tmp_path, both + NESTED)).architecture.nested
    assert (design.network_mode, design.geneve_max_header_size, design.bridged_networks) == ("vlan", 30, [])
    assert target.load(write(tmp_path, VALID)).architecture.nested is None, "no design: the area is not evaluated"
    message = error_of(tmp_path, VALID + NESTED)
    assert "architecture.nested needs clouds.undercloud and clouds.overcloud" in message
    message = error_of(tmp_path, both + NESTED.replace("[scheduler]", "[uc-compute]"))
    assert "architecture.nested.undercloud_compute_roles: role 'uc-compute' is not one of hosts" in message
    message = error_of(tmp_path, both + NESTED.replace("vlan", "vxlan"))
    assert "architecture.nested.network_mode" in message and "'overlay'" in message
