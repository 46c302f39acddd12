"""The lab fixture: up once per run for the lab self-test and the detection tests, down at the end.

Set STACKPROOF_LAB_KEEP=1 to leave the lab running after the run (the down-and-nothing-left check is
then skipped). The lab's state dir follows STACKPROOF_LAB_DIR as the lab itself does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UP_TIMEOUT = 900  # a cold first run installs packages (measured ~6 min); bounded all the same
DOWN_TIMEOUT = 120


def lab_command(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m stackproof_lab ARGS`` from the repository, as the suite's CLI does."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "stackproof_lab", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"python -m stackproof_lab {' '.join(args)} did not finish within {timeout}s: {exc.stdout}")


def state_dir() -> Path:
    return Path(os.environ.get("STACKPROOF_LAB_DIR") or REPO / ".lab").resolve()


@dataclass(frozen=True)
class Lab:
    state: Path
    clouds_yaml: Path
    target_yaml: Path
    up_seconds: float

    def connect(self, cloud: str):  # -> openstack.connection.Connection
        openstack = pytest.importorskip("openstack")
        from openstack import config as os_config

        region = os_config.OpenStackConfig(config_files=[str(self.clouds_yaml)]).get_one(cloud=cloud)
        return openstack.connection.Connection(config=region)

    def status(self) -> dict:
        result = lab_command("status", "--json", timeout=60)
        return json.loads(result.stdout)

    # Helpers handed to the tests through the fixture (test modules here are not importable packages:
    # a tests/lab/__init__.py would make pytest shadow the real ``lab`` package).
    run = staticmethod(lab_command)

    @staticmethod
    def wait_until(check, *, timeout: float, what: str, interval: float = 1.0):
        return wait_until(check, timeout=timeout, what=what, interval=interval)

    @staticmethod
    @contextlib.contextmanager
    def server(conn, name: str, *, image: str, flavor: str = "sp.tiny", network: str | None = "sp-net",
               status: str = "ACTIVE", wait: float = 120, **extra):
        """Boot a server (the lab's image and flavor by name), wait for `status`, yield it with its boot
        seconds as `.boot_seconds`; delete it and wait until it is gone, whatever happened."""
        image_id = conn.image.find_image(image, ignore_missing=False).id if image else None
        flavor_id = conn.compute.find_flavor(flavor, ignore_missing=False).id
        networks = [{"uuid": conn.network.find_network(network, ignore_missing=False).id}] if network else "none"
        began = time.monotonic()
        server = conn.compute.create_server(name=name, image_id=image_id, flavor_id=flavor_id, networks=networks,
                                            **extra)
        try:
            server = conn.compute.wait_for_server(server, status=status, failures=[] if status == "ERROR" else None,
                                                  wait=wait, interval=1)
            server.boot_seconds = time.monotonic() - began
            yield server
        finally:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=wait, interval=1)


@pytest.fixture(scope="module")
def member(lab: Lab):
    """The lab's unprivileged project, as the suites' member cloud."""
    return lab.connect("sp-lab-member")


def _listening_ports() -> set[int]:
    """Ports with a TCP listener, read from /proc (independently of the lab's own code)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A":
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def _processes_in(state: Path) -> list[str]:
    """Live processes whose working directory is the lab state dir (every service the lab starts)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}").joinpath("cwd").resolve() == state:
                stat = Path(f"/proc/{entry}/stat").read_text()
                if stat[stat.rindex(")") + 2] not in "ZX":
                    found.append(f"{entry}: {Path(f'/proc/{entry}/cmdline').read_bytes()[:100]!r}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="session")
def lab() -> Lab:
    began = time.monotonic()
    result = lab_command("up", timeout=UP_TIMEOUT)
    assert result.returncode == 0, (
        f"python -m stackproof_lab up failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    print(f"\n{result.stdout}")  # the lab's own step timings, visible with -s
    state = state_dir()
    handle = Lab(state, state / "clouds.yaml", state / "stackproof.yaml", time.monotonic() - began)
    ports = {row["port"] for row in handle.status()["services"] if row["port"]}
    yield handle
    if os.environ.get("STACKPROOF_LAB_KEEP") == "1":
        return
    result = lab_command("down", timeout=DOWN_TIMEOUT)
    assert result.returncode == 0, f"python -m stackproof_lab down failed:\n{result.stdout}\n{result.stderr}"
    left = _processes_in(state)
    assert not left, f"processes still running in {state} after down: {left}"
    listening = ports & _listening_ports()
    assert not listening, f"lab ports still listening after down: {sorted(listening)}"


def wait_until(check, *, timeout: float, what: str, interval: float = 1.0):
    """Bounded polling for the tests' own waits; the failure says what was awaited and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"gave up after {timeout}s waiting for {what} (last: {last!r})")
