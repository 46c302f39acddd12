"""Bad input, one line: what an operator may get wrong, and what stackproof answers.

Each row is a mistake made as an operator would make it, through the `stackproof` command against the fake
cloud, and the answer it must get: one line naming what is wrong and where, the exit code, no traceback, and no
check run (the cloud sees no request of a check). Read the table as documentation:

    exit 4: bad input (target, clouds.yaml, credentials, an unreachable endpoint, a run ID, an opt-in)
    exit 5: nothing selected
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from fakevcenter import FakeVCenter

CHECK = """
from pathlib import Path

@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_a_check(cloud):
    Path(__file__).parents[2].joinpath("a-check-ran").write_text("yes")
    list(cloud.compute.servers())
"""

VCENTER = """
vcenters:
  vc1: {url: "https://127.0.0.1:PORT/sdk", user: administrator@vsphere.local, password: PASSWORD, insecure: true}
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlammingListener:
    """A TCP endpoint that accepts and closes at once, counting how often it was tried (a vCenter that is down)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Setting:
    """What a case changed: the command line after `stackproof`, and the environment."""

    project: object
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    vcenters: list[FakeVCenter] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.project.path

    def target(self, extra: str = "", name: str = "fake") -> None:
        self.project.write_target(extra=extra, name=name)

    def clouds(self, text: str) -> None:
        (self.path / "clouds.yaml").write_text(text)

    def clouds_entry(self, **changes) -> None:
        data = yaml.safe_load((self.path / "clouds.yaml").read_text())
        data["clouds"]["fake"].update(changes)
        self.clouds(yaml.safe_dump(data))

    def vcenter(self, password: str, port: int | None = None) -> None:
        self.target(VCENTER.replace("PORT", str(port or closed_port())).replace("PASSWORD", password))

    def fake_vcenter(self, password: str) -> None:
        """A vCenter that answers, and accepts only fakevcenter.PASSWORD."""
        vcenter = FakeVCenter(self.path)
        self.vcenters.append(vcenter)
        self.env["SP_VC_PASSWORD"] = password
        self.vcenter("{env: SP_VC_PASSWORD}", vcenter.server.server_address[1])


@dataclass(frozen=True)
class Case:
    mistake: str
    arrange: Callable[[Setting], None]
    says: str
    exit: int = 4


def _args(*args: str) -> Callable[[Setting], None]:
    def arrange(setting: Setting) -> None:
        setting.args += list(args)
    return arrange


CASES = {
    "target-with-an-invalid-value": Case(
        "a target value the schema refuses (enabled: maybe)",
        lambda s: s.target("architecture:\n  drs: {enabled: maybe}\n"),
        "architecture.drs.enabled: Input should be a valid boolean"),
    "target-with-a-typo-in-a-key": Case(
        "a key the schema does not know (behaviour for behavior)",
        lambda s: s.target("architecture:\n  drs: {behaviour: manual}\n"),
        "architecture.drs.behaviour: unknown key"),
    "target-that-sets-an-internal-field": Case(
        "a target file that sets what only the loader may (source)",
        lambda s: s.target("source: /etc/other-target.yaml\n"),
        "source: unknown key"),
    "no-such-target-file": Case(
        "--target names a file that does not exist",
        lambda s: s.args.extend(["--target", str(s.path / "nope.yaml")]),
        "nope.yaml: target description not found"),
    "clouds-yaml-entry-missing": Case(
        "the target names a clouds.yaml entry that is not there",
        lambda s: s.clouds((s.path / "clouds.yaml").read_text().replace("fake:", "other:")),
        "cloud 'fake': no such entry in"),
    "clouds-yaml-syntax-error": Case(
        "clouds.yaml that is not valid YAML (not: \"no such entry\")",
        lambda s: s.clouds("clouds:\n  fake:\n    auth: {auth_url: [\n"),
        "clouds.yaml:4: not valid YAML"),
    "wrong-password": Case(
        "a wrong password in clouds.yaml",
        lambda s: s.project.fake.clouds_yaml(s.path / "clouds.yaml", password="wrong-password-123"),
        "cloud 'fake': Keystone at http://127.0.0.1:"),
    "keystone-unreachable": Case(
        "an auth_url nothing answers on",
        lambda s: s.clouds((s.path / "clouds.yaml").read_text().replace(
            s.project.fake.url, f"http://127.0.0.1:{closed_port()}")),
        "cannot reach Keystone at http://127.0.0.1:"),
    "wrong-region": Case(
        "a region_name the cloud does not have (was: a 40-line INTERNALERROR)",
        lambda s: s.clouds_entry(region_name="RegionTwo"),
        "cloud 'fake': region_name 'RegionTwo' is not in the service catalogue (regions: RegionOne)"),
    "missing-ca-file": Case(
        "clouds.yaml names a CA file that does not exist (was: \"cannot reach\")",
        lambda s: s.clouds_entry(cacert=str(s.path / "no-such-ca.pem")),
        "cloud 'fake': cacert file not found:"),
    "missing-vcenter-ca-bundle": Case(
        "the target names a vCenter CA bundle that does not exist",
        lambda s: s.target(VCENTER.replace("PORT", "443").replace("PASSWORD", "{env: SP_VC_PASSWORD}")
                           .replace("insecure: true", "ca_bundle: vc-ca.pem")),
        "vcenters.vc1.ca_bundle: file not found:"),
    "vcenter-password-env-unset": Case(
        "the vCenter password's environment variable is not set",
        lambda s: s.vcenter("{env: SP_VC_PASSWORD_UNSET}"),
        "vcenters.vc1.password: environment variable SP_VC_PASSWORD_UNSET is not set"),
    "vcenter-password-not-in-secure-yaml": Case(
        "the vCenter password's secure.yaml key is not there",
        lambda s: (s.path.joinpath("secure.yaml").write_text("vcenters: {}\n"),
                   s.vcenter("{secure: vcenters.vc1.password}")),
        "vcenters.vc1.password: key 'vcenters.vc1.password' not found in"),
    "vcenter-wrong-password": Case(
        "a wrong vCenter password: one login attempt before any check, not one per check (SSO lockout)",
        lambda s: s.fake_vcenter("wrong-password-123"),
        "vCenter 'vc1': https://127.0.0.1:"),
    "allow-disruptive-names-another-target": Case(
        "--allow-disruptive names another target (was: every disruptive check skipped, exit 0)",
        _args("--allow-disruptive", "production"),
        "--allow-disruptive=production does not name this target (fake"),
    "run-id-with-a-path": Case(
        "a run ID that is not one (it would name a directory elsewhere and other runs' resources)",
        _args("--run-id", "../../etc"),
        "run ID '../../etc' is not valid: 4 to 32 lowercase letters and digits"),
    "disruptive-tier-without-opt-in": Case(
        "the disruptive tier without --allow-disruptive",
        _args("--tier", "disruptive"),
        "the disruptive tier needs --allow-disruptive=<target name>"),
    "smoke-with-a-workload-marker": Case(
        "-m workload on a smoke run: the tier's selection is narrowed, never replaced",
        _args("--", "-m", "workload"),
        "no control evaluated: tier smoke and the markers '(readonly) and (workload)' select no check",
        exit=6),
}


@pytest.fixture
def setting(project, monkeypatch):
    project.check("placement/test_a.py", CHECK)
    for name in ("STACKPROOF_TARGET", "OS_CLIENT_CONFIG_FILE", "OS_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    setting = Setting(project, ["run", "--suites", str(project.path / "suites"), "-n", "0"])
    yield setting
    for vcenter in setting.vcenters:
        vcenter.stop()


def one_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_its_exit_code(setting: Setting, name: str) -> None:
    case = CASES[name]
    case.arrange(setting)
    if "--target" not in setting.args:
        setting.args[1:1] = ["--target", str(setting.path / "stackproof.yaml")]
    result = subprocess.run([sys.executable, "-m", "stackproof.cli", *setting.args], cwd=setting.path,
                            env=os.environ | setting.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == case.exit, f"{case.mistake}:\n{result.stdout}\n{result.stderr}"
    line = one_line(result)
    assert case.says in line, f"{case.mistake}: said {line!r}"
    assert not (setting.path / "a-check-ran").exists(), f"{case.mistake}: a check ran"
    assert "wrong-password-123" not in line and "right-or-wrong-123" not in line
    for vcenter in setting.vcenters:
        assert len(vcenter.logins) == 1, vcenter.logins


VCENTER_CHECKS = """
@pytest.mark.control("SP-AGG-011", title="DRS", statement="DRS is fully automated.")
@pytest.mark.readonly
@pytest.mark.placement
@pytest.mark.parametrize("n", range(3))
def test_needs_the_vcenter(vcenters, n):
    vcenters.get("vc1")
"""


def test_a_vcenter_that_does_not_answer_is_a_finding_not_bad_input(setting: Setting) -> None:
    """A stopped vCenter is what the failover and placement checks are there to find: the run goes on, and each
    check that needs it fails with one line, after one attempt per process (not one per check)."""
    listener = SlammingListener()
    try:
        setting.env["SP_VC_PASSWORD"] = "some-password-123"
        setting.vcenter("{env: SP_VC_PASSWORD}", listener.port)
        setting.project.check("placement/test_vc.py", VCENTER_CHECKS)
        result = subprocess.run([sys.executable, "-m", "stackproof.cli", *setting.args[:1], "--target",
                                 str(setting.path / "stackproof.yaml"), *setting.args[1:], "--", "-rf"],
                                cwd=setting.path, env=os.environ | setting.env, capture_output=True, text=True,
                                timeout=120)
    finally:
        listener.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stackproof: vCenter 'vc1': cannot reach https://127.0.0.1:" in result.stdout
    assert "1 passed" in result.stdout and "3 failed" in result.stdout
    assert result.stdout.count("FAILED suites/placement/test_vc.py::test_needs_the_vcenter") == 3
    assert "Traceback" not in result.stdout
    # the probe and the one process's first use; SmartConnect may open two connections per attempt
    assert listener.accepted <= 4, listener.accepted


def test_a_target_outside_the_checkout_keeps_the_projects_pytest_settings(setting: Setting, tmp_path) -> None:
    """No pyproject.toml or pytest.ini anywhere near: the markers, xunit1 and the warning filters come from
    the plugin (was: xunit2 and hundreds of unknown-marker warnings)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-m", "pytest", str(setting.path / "suites"), "--target",
                             str(setting.path / "stackproof.yaml"), "-p", "no:cacheprovider"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout
    junit = next((setting.path / "reports").glob("*/junit.xml"), None)
    assert junit is not None, result.stdout
    # stackproof's own JUnit (control-named cases, each in a suite holding its properties), not pytest's xunit2
    suite = next(s for s in ET.parse(junit).getroot().iter("testsuite") if s.find("testcase") is not None)
    assert suite.find("testcase").get("name").startswith("SP-AGG-"), ET.tostring(suite)
    assert {p.get("name") for p in suite.iter("property")} >= {"control_id", "tier", "area"}
