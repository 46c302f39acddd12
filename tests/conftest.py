"""Fixtures for the project's own tests: a fake OpenStack API, and a throwaway suite project around it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakecloud import FakeCloud

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester", "labsession", "nsxserver"]


@pytest.fixture
def fake():
    cloud = FakeCloud().start()
    yield cloud
    cloud.stop()


class SuiteProject:
    """A directory laid out like this repo (conftest, suites/, target) for running checks in a subprocess.

    It has no pyproject.toml or pytest.ini, as a target directory outside the checkout would not: everything a
    suite run needs from pytest's configuration comes from the plugin.
    """

    def __init__(self, pytester: pytest.Pytester, fake: FakeCloud) -> None:
        self.pytester, self.fake, self.path = pytester, fake, pytester.path
        (self.path / "conftest.py").write_text((REPO / "conftest.py").read_text())
        (self.path / "suites").mkdir()
        fake.clouds_yaml(self.path / "clouds.yaml")
        self.write_target()

    def write_target(self, extra: str = "", name: str = "fake") -> Path:
        text = textwrap.dedent(f"""\
            name: {name}
            clouds_yaml: clouds.yaml
            clouds:
              cloud: fake
            timeouts:
              profile: test
              interval: 0.05
              default: 5
            """) + textwrap.dedent(extra)
        path = self.path / "stackproof.yaml"
        path.write_text(text)
        return path

    def check(self, name: str, source: str) -> Path:
        path = self.path / "suites" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import pytest\n" + textwrap.dedent(source))
        return path

    def run(self, *args: str, timeout: float = 120) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(
            "suites", "--target", str(self.path / "stackproof.yaml"), "-p", "no:cacheprovider", *args,
            timeout=timeout,
        )

    def stackproof(self, command: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """`stackproof COMMAND ARGS` in a subprocess; `run` gets this project's suites and target."""
        own = ["--suites", str(self.path / "suites"), "--target", str(self.path / "stackproof.yaml")]
        return subprocess.run([sys.executable, "-m", "stackproof.cli", command, *(own if command == "run" else []),
                               *args], capture_output=True, text=True, timeout=timeout, cwd=self.path)

    def run_dirs(self) -> list[Path]:
        return sorted(p for p in (self.path / "reports").iterdir() if p.is_dir() and not p.is_symlink())


@pytest.fixture
def project(pytester: pytest.Pytester, fake: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> SuiteProject:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("STACKPROOF_TARGET", raising=False)
    return SuiteProject(pytester, fake)
