"""Safety tiers: readonly checks cannot write, disruptive checks need the opt-in and run last, one at a time."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from types import SimpleNamespace

import fakecloud
import pytest

from stackproof import safety, vsphere
from stackproof.errors import SafetyViolation

READONLY_WRITE = """
@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_sneaky_write(cloud):
    list(cloud.compute.servers())            # a read is fine
    cloud.network.create_network(name="should-never-exist")
"""


def test_readonly_check_cannot_write_and_the_failure_names_check_and_request(project) -> None:
    project.check("placement/test_ro.py", READONLY_WRITE)
    result = project.run()
    assert result.ret == 1
    out = result.stdout.str()
    assert "SP-AGG-002" in out and "test_sneaky_write" in out
    assert "is a readonly check but tried POST" in out and "/network/v2.0/networks" in out
    assert project.fake.writes() == [], "the write must never reach the cloud"
    assert ("GET", "/compute/v2.1/servers/detail") in project.fake.requests or any(
        m == "GET" and p.startswith("/compute/v2.1/servers") for m, p in project.fake.requests)


def test_readonly_check_that_swallows_the_refusal_still_fails(project) -> None:
    project.check("placement/test_ro.py", READONLY_WRITE.replace(
        '    cloud.network.create_network(name="should-never-exist")',
        '    try:\n        cloud.network.create_network(name="x")\n    except BaseException:\n        pass'))
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED*test_sneaky_write*"])
    assert project.fake.writes() == []


def test_workload_check_may_write(project) -> None:
    project.check("placement/test_wl.py", """
        @pytest.mark.control("SP-AGG-007", title="qcow2 lands on KVM", statement="Images carry metadata.")
        @pytest.mark.workload
        @pytest.mark.placement
        def test_create(resources):
            net = resources.create("network", hint="net")
            assert net.name.startswith(resources.prefix)
        """)
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    assert [m for m, _ in project.fake.writes()] == ["POST", "DELETE"]


DISRUPTIVE = """
import time
from pathlib import Path

LOG = Path(__file__).parents[2] / "order.log"

def note(what):
    with LOG.open("a") as f:
        f.write(f"{what} {time.time():.6f}\\n")

@pytest.mark.control("SP-FO-001", title="Service up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
@pytest.mark.parametrize("i", range(6))
def test_read(i):
    note(f"start-read-{i}"); time.sleep(0.3); note(f"end-read-{i}")

@pytest.mark.control("SP-FO-007", title="Kill compute", statement="Its loss is detected.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_kill():
    note("start-kill"); time.sleep(0.3); note("end-kill")

@pytest.mark.control("SP-FO-008", title="Fence compute", statement="Forced-down fencing works.")
@pytest.mark.disruptive
@pytest.mark.failover
def test_fence():
    note("start-fence"); time.sleep(0.3); note("end-fence")
"""


def _order(project) -> list[tuple[str, float]]:
    rows = [line.split() for line in (project.path / "order.log").read_text().splitlines()]
    return sorted(((name, float(at)) for name, at in rows), key=lambda row: row[1])


def test_disruptive_checks_are_skipped_without_opt_in(project) -> None:
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("-rs")
    assert result.ret == 0
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*disruptive check: not run unless --allow-disruptive=fake names this target*"])


def test_disruptive_checks_never_run_beside_others_under_xdist(project) -> None:
    """A plain `pytest -n 3` must not run a disruptive check while other checks run on the other workers."""
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("--allow-disruptive=fake", "-n", "3", "--dist", "loadscope", "-rs")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*disruptive check: not run under xdist (-n), where other checks run beside it*"])
    assert not any(name.endswith(("kill", "fence")) for name, _at in _order(project))


def test_disruptive_checks_run_last_without_xdist(project) -> None:
    project.check("failover/test_fo.py", DISRUPTIVE)
    result = project.run("--allow-disruptive=fake")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=8)
    names = [name for name, _at in _order(project)]
    assert names[-4:] == ["start-kill", "end-kill", "start-fence", "end-fence"] or \
        names[-4:] == ["start-fence", "end-fence", "start-kill", "end-kill"], names
    report = json.loads((project.run_dirs()[-1] / "evidence.json").read_text())
    outcomes = {c["control_id"]: c["outcome"] for c in report["controls"]}
    assert outcomes["SP-FO-007"] == outcomes["SP-FO-008"] == "passed"


# -- the tier is the run's ceiling: a smoke run stays read-only whatever the arguments ------------------------

TWO_TIERS = """
from pathlib import Path

@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_read(cloud):
    list(cloud.compute.servers())

@pytest.mark.control("SP-AGG-007", title="qcow2 lands on KVM", statement="Images carry metadata.")
@pytest.mark.workload
@pytest.mark.placement
def test_write(resources):
    Path(__file__).parents[2].joinpath("the-workload-check-ran").write_text("yes")
    resources.create("network", hint="net")
"""


def stackproof_run(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stackproof.cli", "run", "--suites", str(project.path / "suites"),
         "--target", str(project.path / "stackproof.yaml"), "-n", "0", *args],
        capture_output=True, text=True, timeout=300, cwd=project.path)


def test_a_users_marker_narrows_smoke_and_never_widens_it(project) -> None:
    project.check("placement/test_tiers.py", TWO_TIERS)
    result = stackproof_run(project, "--tier", "smoke", "--", "-m", "workload")
    assert result.returncode == 6, result.stdout + result.stderr
    assert "no control evaluated" in result.stderr
    assert not (project.path / "the-workload-check-ran").exists()
    result = stackproof_run(project, "--tier", "smoke", "--", "-m", "readonly or workload")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 deselected" in result.stdout
    assert not (project.path / "the-workload-check-ran").exists()
    assert project.fake.writes() == []


WRITES_OUTSIDE_ANY_CHECK = """
from pathlib import Path
from stackproof.plugin.run import run_state

def pytest_collection_finish(session):
    state = run_state(session.config)
    if state is None:
        return
    try:
        state.connections().get("fake").network.create_network(name="written-at-collection")
        outcome = "sent"
    except AssertionError as exc:
        outcome = f"refused: {exc}"
    Path(__file__).parent.joinpath("outside-any-check").write_text(outcome)
"""


def test_the_ceiling_deselects_and_refuses_whatever_runs(project) -> None:
    project.check("placement/test_tiers.py", TWO_TIERS)
    (project.path / "conftest.py").write_text(WRITES_OUTSIDE_ANY_CHECK)
    result = project.run("--max-tier", "workload", "--max-tier", "readonly", "-rA")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1, deselected=1)
    outcome = (project.path / "outside-any-check").read_text()
    assert outcome.startswith("refused: this run is capped at readonly (--max-tier) but tried POST"), outcome
    assert project.fake.writes() == []
    assert "stackproof: ceiling readonly" in result.stdout.str()
    assert json.loads((project.run_dirs()[-1] / "evidence.json").read_text())["selection"]["max_tier"] == "readonly"


def test_a_check_above_the_ceiling_is_refused_by_the_guard_too() -> None:
    safety.set_ceiling("readonly")
    safety.enter(safety.CheckContext("t::w", "SP-AGG-007", "workload"))
    try:
        with pytest.raises(SafetyViolation, match="is a workload check in a run capped at readonly"):
            safety.check_allowed("POST", "http://nova/servers")
        safety.check_allowed("GET", "http://nova/servers")
    finally:
        safety.leave()
        safety.set_ceiling(None)


# -- read-only by every route: below the SDK, and the cloud's own reader role --------------------------------

RAW_CLIENTS = """
import http.client
import urllib.request
from urllib.parse import urlsplit

import requests

def nova(cloud):
    return cloud.compute.get_endpoint().rstrip("/") + "/os-keypairs"

@pytest.mark.control("SP-AGG-002", title="t", statement="s")
@pytest.mark.readonly
@pytest.mark.placement
def test_requests(cloud):
    requests.post(nova(cloud), json={"keypair": {"name": "sneaky"}}, headers={"X-Auth-Token": cloud.auth_token})

@pytest.mark.control("SP-AGG-003", title="t", statement="s")
@pytest.mark.readonly
@pytest.mark.placement
def test_urllib(cloud):
    request = urllib.request.Request(nova(cloud), data=b"{}", method="POST", headers={"X-Auth-Token": cloud.auth_token})
    urllib.request.urlopen(request)

@pytest.mark.control("SP-AGG-004", title="t", statement="s")
@pytest.mark.readonly
@pytest.mark.placement
def test_http_client(cloud):
    url = urlsplit(nova(cloud))
    connection = http.client.HTTPConnection(url.hostname, url.port)
    try:
        connection.request("DELETE", url.path + "/anything", headers={"X-Auth-Token": cloud.auth_token})
    except BaseException:
        pass  # swallowing the refusal does not make the check green

@pytest.mark.control("SP-AGG-005", title="t", statement="s")
@pytest.mark.readonly
@pytest.mark.placement
def test_plain_read(cloud):
    assert requests.get(nova(cloud), headers={"X-Auth-Token": cloud.auth_token}).status_code == 404
"""


def test_every_http_client_is_refused_a_write_in_a_readonly_check(project) -> None:
    project.check("placement/test_raw.py", RAW_CLIENTS)
    result = project.run("-rA")
    result.assert_outcomes(failed=3, passed=1)
    out = result.stdout.str()
    for check in ("test_requests", "test_urllib", "test_http_client"):
        assert f"{check}" in out
    assert out.count("is a readonly check but tried") >= 3, out
    assert "tried POST http://127.0.0.1" in out and "tried DELETE http://127.0.0.1" in out
    assert project.fake.writes() == [], "no write may reach the cloud"
    assert ("GET", "/compute/v2.1/os-keypairs") in project.fake.requests


def test_readonly_checks_use_the_reader_account_where_the_target_names_one(project) -> None:
    project.fake.clouds_yaml(project.path / "clouds.yaml",
                             reader=project.fake.entry(user=fakecloud.READER, password=fakecloud.READER_PASSWORD))
    project.write_target().write_text(
        project.write_target().read_text().replace("  cloud: fake\n", "  cloud: fake\n  reader: reader\n"))
    project.check("placement/test_reader.py", TWO_TIERS)
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    by_user = project.fake.requests_by_user
    assert ("GET", "/compute/v2.1/servers/detail", fakecloud.READER) in by_user, by_user
    assert any(m == "GET" and p.startswith("/network/v2.0/networks/") and u == fakecloud.USER for m, p, u in by_user)
    assert [u for m, _p, u in by_user if m != "GET"] == [fakecloud.USER] * 2, by_user  # create, delete


def test_vsphere_reads_pass_in_a_readonly_check_and_writes_do_not(fake) -> None:
    """pyVmomi's lazy property read is the SOAP method Fetch: a read. A SOAP call travels as an HTTP POST, which
    the wire guard lets through only for a call the vSphere guard checked."""
    sent: list[str] = []

    class Stub:
        def InvokeMethod(self, mo, info, args):
            connection = http.client.HTTPConnection("127.0.0.1", fake.server.server_address[1])
            connection.request("POST", "/sdk", body=b"{}")
            connection.getresponse().read()
            sent.append(info.wsdlName)
            return "value"

    stub = Stub()
    vsphere._guard_stub(stub, "https://vc1/sdk")
    safety.install_wire_guard()
    safety.enter(safety.CheckContext("t::r", "SP-AGG-011", "readonly"))
    try:
        assert stub.InvokeMethod("vim.VirtualMachine:vm-1", SimpleNamespace(wsdlName="Fetch"), ("name",)) == "value"
        with pytest.raises(SafetyViolation, match="tried vSphere PowerOnVM_Task"):
            stub.InvokeMethod("vim.VirtualMachine:vm-1", SimpleNamespace(wsdlName="PowerOnVM_Task"), ())
        with pytest.raises(SafetyViolation, match=r"tried POST http://127\.0\.0\.1"):
            http.client.HTTPConnection("127.0.0.1", fake.server.server_address[1]).request("POST", "/sdk")
    finally:
        safety.leave()
    assert sent == ["Fetch"]
