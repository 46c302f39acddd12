"""Interrupts: the leak audit runs after the xdist workers have cleaned up, and an interrupted run's evidence
says so and lists what is left, with the cleanup command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from stackproof import exitcodes

CREATES = """
import time
from pathlib import Path

@pytest.mark.control("SP-BLK-006", title="Attach on KVM", statement="Block Storage serves KVM instances.")
@pytest.mark.workload
@pytest.mark.block_storage
def test_make(resources):
    resources.create("volume", hint="vol", size=1)
    Path("a-created").touch()
    time.sleep(60)
"""

# A check on the other worker that creates something after the interrupt reached it (outside the ledger:
# only the audit can find it).
LATE = """
import time
from pathlib import Path

@pytest.mark.control("SP-BLK-007", title="Attach on VMware", statement="Block Storage serves ESXi.")
@pytest.mark.workload
@pytest.mark.block_storage
def test_late(resources, cloud):
    Path("b-ready").touch()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        cloud.network.create_network(name=resources.name("late"))
        raise
"""


def start(project, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "suites", "--target", str(project.path / "stackproof.yaml"),
         "-p", "no:cacheprovider", *args], cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def wait_for_files(project, proc: subprocess.Popen, *names: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not all((project.path / name).exists() for name in names):
        assert time.monotonic() < deadline, f"the checks never got to {names}"
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.1)


def evidence(project) -> dict:
    return json.loads((project.run_dirs()[-1] / "evidence.json").read_text())


def test_sigterm_to_the_controller_audits_after_the_workers_cleaned_up(project) -> None:
    project.check("block_storage/test_a.py", CREATES)
    project.check("block_storage/test_b.py", LATE)
    proc = start(project, "-n", "2", "--dist", "loadscope")
    wait_for_files(project, proc, "a-created", "b-ready")
    assert len(project.fake.store["volumes"]) == 1
    proc.send_signal(signal.SIGTERM)  # the controller only, as CI and `timeout` do: the workers get nothing
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == exitcodes.INTERRUPTED, out
    assert "interrupting worker gw" in out
    assert project.fake.store["volumes"] == {}, "the worker deleted its volume before exiting"
    late = [n["name"] for n in project.fake.store["networks"].values()]
    assert len(late) == 1 and "-late-" in late[0]
    record = evidence(project)
    # The audit ran after the workers: no false leak for the deleted volume, the late network found.
    assert record["interrupted"] is True and record["exit_status"] == exitcodes.INTERRUPTED
    assert [leak.split()[1] for leak in record["leaks"]] == late
    assert record["cleanup_command"] == f"stackproof cleanup --run-id {record['run_id']}"
    assert "LEAK AUDIT FAILED" in out and f"stackproof cleanup --run-id {record['run_id']}" in out


SLOW_CLEANUP = """
import time
from pathlib import Path

@pytest.mark.control("SP-BLK-009", title="Boot from volume", statement="Volumes boot on both hypervisors.")
@pytest.mark.workload
@pytest.mark.block_storage
def test_make(resources):
    resources.create("server", hint="srv", image_id="img", flavor_id="flv")
    resources.create("volume", hint="vol1", size=1)
    resources.create("volume", hint="vol2", size=1)
    Path("created").touch()
    time.sleep(60)
"""


def test_a_second_interrupt_stops_the_cleanup_and_the_evidence_lists_what_is_left(project) -> None:
    project.check("block_storage/test_make.py", SLOW_CLEANUP)
    project.fake.delete_after_reads = 10**6  # the server never goes: the clean-up waits for it
    proc = start(project)
    wait_for_files(project, proc, "created")
    proc.send_signal(signal.SIGINT)
    first = time.monotonic()
    deadline = first + 60
    while not any(method == "DELETE" and "/servers/" in path for method, path in project.fake.requests):
        assert time.monotonic() < deadline and proc.poll() is None, "the clean-up never started"
        time.sleep(0.1)
    # The clean-up now waits for the server to go; a second Ctrl-C, past the duplicate window.
    time.sleep(max(0.0, first + 3.0 - time.monotonic()))
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == exitcodes.INTERRUPTED, out
    volumes = sorted(v["name"] for v in project.fake.store["volumes"].values())
    assert len(volumes) == 2, "the second interrupt stopped the clean-up before the volumes"
    record = evidence(project)
    assert record["interrupted"] is True and record["exit_status"] == exitcodes.INTERRUPTED
    assert sorted(leak.split()[1] for leak in record["leaks"]) == volumes
    assert record["cleanup_command"] == f"stackproof cleanup --run-id {record['run_id']}"
    assert any("interrupted again while cleaning up" in note for note in record["notes"])
