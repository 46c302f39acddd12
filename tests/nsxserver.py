"""The lab NSX manager as a test double: the real server (stackproof_lab.nsx.server) in a subprocess on a free
loopback port, with a state dir and credentials of the test's own. No lab needed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OVERLAY_TZ = ("1b3a2f36-bfd1-443e-a0f6-4de01abc963e", "sp-overlay-tz")
START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class NsxServer:
    state: Path
    port: int
    user: str = "admin"
    password: str = "test-only-nsx-password"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.state / "nsx-ca.pem"

    def start(self) -> NsxServer:
        env = {**os.environ, "STACKPROOF_NSX_USER": self.user, "STACKPROOF_NSX_PASSWORD": self.password,
               "PYTHONPATH": str(REPO)}
        endpoint = self.state / "nsx.json"
        endpoint.unlink(missing_ok=True)
        with open(self.state / "server.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stackproof_lab.nsx.server", "--state-dir", str(self.state), "--listen",
                 f"127.0.0.1:{self.port}", "--overlay-tz", ":".join(OVERLAY_TZ)],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while not (endpoint.exists() and json.loads(endpoint.read_text()).get("pid") == self.process.pid):
            assert self.process.poll() is None, f"the NSX manager died: {(self.state / 'server.log').read_text()}"
            assert time.monotonic() < deadline, f"the NSX manager did not start within {START_TIMEOUT}s"
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def nsx_server(tmp_path: Path):
    server = NsxServer(tmp_path / "nsx", _free_port())
    server.state.mkdir()
    server.start()
    yield server
    server.stop()
