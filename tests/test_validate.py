"""`stackproof validate` means valid: every problem, offline, one line each; `--connect` reaches the endpoints;
`stackproof schema` describes every field; the README's example target is the fixture that validates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackproof import validation

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "targets" / "prod-east.yaml"


def stackproof(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STACKPROOF_", "OS_", "SP_", "VC1_"))}
    return subprocess.run([sys.executable, "-m", "stackproof.cli", *args], capture_output=True, text=True,
                          timeout=120, env=clean | (env or {}))


def test_every_problem_is_listed_one_line_each(project) -> None:
    """Was: valid with a missing clouds.yaml entry and an unset {env:} secret, and only the first problem shown."""
    (project.path / "secure.yaml").write_text("vcenters: {}\n")
    path = project.write_target(extra=textwrap.dedent("""\
        vcenters:
          vc1: {url: "https://vc1.example.net/sdk", user: u, password: {env: SP_VALIDATE_UNSET}}
          vc2: {url: "https://vc2.example.net/sdk", user: u, password: {secure: vcenters.vc2.password}}
        nsx: {url: "https://nsx.example.net", user: u, password: {env: SP_VALIDATE_NSX}, ca_bundle: nsx-ca.pem}
        """))
    path.write_text(path.read_text().replace("  cloud: fake\n", "  cloud: fake\n  member: nosuch\n"))
    result = stackproof("validate", "--target", str(path), env={"SP_VALIDATE_NSX": "set"})
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert lines[0].endswith(f"nsx.ca_bundle: file not found: {project.path / 'nsx-ca.pem'}")
    assert "cloud 'nosuch': no such entry in" in lines[1]
    assert lines[2].endswith("vcenters.vc1.password: environment variable SP_VALIDATE_UNSET is not set")
    assert "vcenters.vc2.password: key 'vcenters.vc2.password' not found in" in lines[3]


def test_schema_problems_are_all_listed_too(tmp_path: Path) -> None:
    path = tmp_path / "stackproof.yaml"
    path.write_text("name: bad name\nclouds: {cloud: ''}\narchitecture: {drs: {behaviour: manual}}\nsource: /x\n")
    report = validation.validate(path)
    keys = [problem.split(": ")[1] for problem in report.problems]
    assert keys == ["name", "clouds.cloud", "architecture.drs.behaviour", "source"], report.problems
    assert report.problems[3].endswith("source: unknown key (not part of the target description)")


def test_connect_reaches_every_cloud(project) -> None:
    assert stackproof("validate", "--target", str(project.path / "stackproof.yaml"), "--connect").returncode == 0
    project.fake.clouds_yaml(project.path / "clouds.yaml", password="wrong-password-123")
    offline = stackproof("validate", "--target", str(project.path / "stackproof.yaml"))
    assert offline.returncode == 0, "offline, a wrong password cannot be seen"
    result = stackproof("validate", "--target", str(project.path / "stackproof.yaml"), "--connect")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        f"stackproof: cloud 'fake': Keystone at {project.fake.url}/identity/v3 refused the credentials (401): "
        "check user, password, project"]


def test_the_readme_example_is_the_fixture_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.split("```yaml\n", 1)[1].split("```", 1)[0] == EXAMPLE.read_text(encoding="utf-8")
    assert EXAMPLE.read_text().startswith("# yaml-language-server: $schema=stackproof.schema.json\n")
    missing = stackproof("validate", "--target", str(EXAMPLE))
    assert missing.returncode == 4
    assert missing.stderr.strip() == "stackproof: vcenters.vc1.password: environment variable VC1_PASSWORD is not set"
    valid = stackproof("validate", "--target", str(EXAMPLE), env={"VC1_PASSWORD": "example"})
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith(f"{EXAMPLE}: valid target 'prod-east'")


def test_schema_describes_every_field() -> None:
    result = stackproof("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    undescribed = []
    for where, node in [("stackproof.yaml", schema), *schema["$defs"].items()]:
        for name, prop in node.get("properties", {}).items():
            if not prop.get("description"):
                undescribed.append(f"{where}.{name}")
    assert undescribed == []
    assert "source" not in schema["properties"], "internal fields are no part of the file"
    assert "reader" in schema["$defs"]["Clouds"]["properties"]
