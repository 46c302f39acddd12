"""The cleanup ledger: record before create, delete in dependency order, survive errors and Ctrl-C, audit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakecloud import PROJECT_ID

from stackproof import connections, target
from stackproof.ledger import Ledger, find_of_run

CREATES = """
import time
@pytest.mark.control("SP-BLK-006", title="Attach on KVM", statement="Block Storage serves KVM instances.")
@pytest.mark.workload
@pytest.mark.block_storage
def test_make(resources):
    resources.create("network", hint="net")
    resources.create("volume", hint="vol", size=1)
    resources.create("server", hint="srv", image_id="img", flavor_id="flv")
    SLEEP
"""


def _setup(project):
    tgt = target.load(project.path / "stackproof.yaml")
    return tgt, connections.connect(tgt, "fake")


def test_resources_are_deleted_in_dependency_order_when_the_check_ends(project) -> None:
    project.check("block_storage/test_make.py", CREATES.replace("SLEEP", "pass"))
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    deletes = [p.split("/")[-2] for m, p in project.fake.writes() if m == "DELETE"]
    assert deletes == ["servers", "volumes", "networks"]
    lines = [json.loads(x) for x in next(project.run_dirs()[-1].glob("ledger-*.jsonl")).read_text().splitlines()]
    # each resource: recorded (no id yet) before it was created, then created, then deleted
    for kind in ("network", "volume", "server"):
        states = [(x["state"], bool(x["id"])) for x in lines if x["kind"] == kind]
        assert states == [("requested", False), ("created", True), ("deleted", True)], (kind, states)


def test_a_failing_delete_does_not_stop_the_rest(project, tmp_path: Path) -> None:
    tgt, conn = _setup(project)
    ledger = Ledger(tmp_path / "ledger.jsonl", "run1", lambda _entry: conn, tgt.timeouts)
    net = ledger.create("network", "fake", None, conn, hint="net")
    vol = ledger.create("volume", "fake", None, conn, hint="vol", size=1)
    srv = ledger.create("server", "fake", None, conn, hint="srv", image_id="i", flavor_id="f")
    project.fake.store["volumes"].clear()  # the volume vanished behind our back: its wait still succeeds...
    broken = ledger.intend("server", ledger.new_name("ghost"), "no-such-cloud", None)
    broken.id = "deadbeef"

    def connect(entry: str):
        if entry == "no-such-cloud":
            raise RuntimeError("cannot connect to no-such-cloud")
        return conn

    ledger._connect = connect
    errors = ledger.cleanup()
    assert len(errors) == 1 and "ghost" in errors[0] and "cannot connect" in errors[0]
    found, _ = find_of_run(conn, "run1", ["server", "volume", "network"])
    assert found == [], "the other resources must still be deleted"
    assert {srv.id, vol.id, net.id}.isdisjoint(project.fake.store["servers"])


def test_a_create_that_never_returned_is_found_by_name_and_deleted(project, tmp_path: Path) -> None:
    tgt, conn = _setup(project)
    ledger = Ledger(tmp_path / "ledger.jsonl", "run2", lambda _entry: conn, tgt.timeouts)
    name = ledger.new_name("lost")
    ledger.intend("network", name, "fake", None)
    conn.network.create_network(name=name)  # created, but the caller never learnt the ID
    assert ledger.cleanup() == []
    assert find_of_run(conn, "run2", ["network"])[0] == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_still_cleans_up(project, sig: signal.Signals) -> None:
    project.check("block_storage/test_make.py", CREATES.replace(
        "SLEEP", "open('created', 'w').close()\n    time.sleep(60)"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "suites", "--target", str(project.path / "stackproof.yaml"),
         "-p", "no:cacheprovider"], cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (project.path / "created").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the check never got to create its resources"
        time.sleep(0.1)
    assert sum(len(v) for v in project.fake.store.values()) == 3
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert sum(len(v) for v in project.fake.store.values()) == 0, out
    assert "leak audit: nothing of run" in out


def test_leak_audit_fails_a_run_that_leaves_something(project) -> None:
    project.check("block_storage/test_leak.py", """
        @pytest.mark.control("SP-BLK-007", title="Attach on VMware", statement="Block Storage serves ESXi.")
        @pytest.mark.workload
        @pytest.mark.block_storage
        def test_leaky(resources, cloud):
            resources.create("volume", hint="ok", size=1)
            cloud.network.create_network(name=resources.name("bypassed-the-ledger"))
        """)
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*LEAK AUDIT FAILED*", "*network sp-*-bypassed_the_ledger-*",
                                 "*stackproof cleanup --run-id*"])
    evidence = json.loads((project.run_dirs()[-1] / "evidence.json").read_text())
    assert any("bypassed_the_ledger" in leak for leak in evidence["leaks"])


def test_a_volume_stuck_mid_operation_is_force_deleted(project, tmp_path: Path) -> None:
    tgt, conn = _setup(project)
    ledger = Ledger(tmp_path / "ledger.jsonl", "run2", lambda _entry: conn, tgt.timeouts)
    volume = ledger.create("volume", "fake", None, conn, hint="stuck", size=1)
    project.fake.store["volumes"][volume.id]["status"] = "error_deleting"
    assert ledger.cleanup() == []
    deletes = [p for m, p in project.fake.writes() if m == "DELETE"]
    assert deletes == [f"/volume/v3/{PROJECT_ID}/volumes/{volume.id}"] * 2  # refused, then forced
    assert volume.id not in project.fake.store["volumes"]
