"""The run touches only the cloud its target names, records what it reached, and finds secure.yaml beside
clouds.yaml; tox passes the environment variables the target refers to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml
from fakecloud import PASSWORD

CHECK = """
@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_x(cloud): assert list(cloud.compute.servers()) == []
"""


def evidence(project) -> dict:
    return json.loads((project.run_dirs()[-1] / "evidence.json").read_text())


def test_os_client_config_file_cannot_lead_the_run_to_another_cloud(project, tmp_path: Path, monkeypatch) -> None:
    """openstacksdk searches $OS_CLIENT_CONFIG_FILE first: an entry of the same name there must not win."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        elsewhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    other = tmp_path / "other-clouds.yaml"
    other.write_text((project.path / "clouds.yaml").read_text().replace(project.fake.url, elsewhere))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(other))
    monkeypatch.setenv("OS_CLOUD", "fake")
    project.check("placement/test_x.py", CHECK)
    result = project.run()
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    out = result.stdout.str()
    assert f"stackproof: cloud cloud: 'fake' at {project.fake.url}/identity/v3" in out
    assert f"OS_CLIENT_CONFIG_FILE={other} ignored: the target names its clouds.yaml" in out
    used = evidence(project)["target"]["clouds"]["cloud"]
    assert used["entry"] == "fake" and used["auth_url"] == f"{project.fake.url}/identity/v3"
    assert used["clouds_yaml"] == str(project.path / "clouds.yaml") and used["region_name"] == "RegionOne"


def test_every_clouds_role_is_recorded_with_what_it_reached(project) -> None:
    project.fake.clouds_yaml(project.path / "clouds.yaml", member=project.fake.entry())
    project.write_target(extra="").write_text(
        project.write_target().read_text().replace("  cloud: fake\n", "  cloud: fake\n  member: member\n"))
    project.check("placement/test_x.py", CHECK)
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    assert set(evidence(project)["target"]["clouds"]) == {"cloud", "member"}
    assert "stackproof: cloud member: 'member' at" in result.stdout.str()


def test_secure_yaml_beside_clouds_yaml_is_found_without_being_named(project) -> None:
    """The README's promise: clouds.yaml without passwords, secure.yaml beside it with them."""
    clouds = yaml.safe_load((project.path / "clouds.yaml").read_text())
    del clouds["clouds"]["fake"]["auth"]["password"]
    (project.path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    (project.path / "secure.yaml").write_text(yaml.safe_dump({
        "clouds": {"fake": {"auth": {"password": PASSWORD}}},
        "vcenters": {"vc1": {"password": "from-the-secure-yaml-beside"}},
    }))
    project.check("placement/test_x.py", CHECK + """
from stackproof.target import SecretRef

@pytest.mark.control("SP-AGG-003", title="t", statement="s")
@pytest.mark.readonly
@pytest.mark.placement
def test_secret(target):
    assert target.secret(SecretRef(secure="vcenters.vc1.password"), "x") == "from-the-secure-yaml-beside"
""")
    result = project.run()
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)


def test_tox_passes_the_variables_the_target_refers_to(tmp_path: Path) -> None:
    """tox drops what pass_env does not name; toxfile.py adds the target's {env: VAR} references."""
    target = tmp_path / "stackproof.yaml"
    target.write_text("name: t\nclouds: {cloud: c}\nvcenters:\n  vc1:\n    url: https://vc/sdk\n    user: u\n"
                      "    password: {env: SP_TOXFILE_VC_PASSWORD}\nnsx:\n  url: https://nsx\n  user: u\n"
                      "  password:\n    env: 'SP_TOXFILE_NSX_PASSWORD'\n")
    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOX_", "STACKPROOF_"))}

    def pass_env(*args: str, **extra: str) -> list[str]:
        result = subprocess.run([sys.executable, "-m", "tox", "config", "-e", "smoke", "-k", "pass_env", *args],
                                cwd=repo, env=env | extra, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    wanted = {"SP_TOXFILE_VC_PASSWORD", "SP_TOXFILE_NSX_PASSWORD"}
    assert wanted <= set(pass_env(STACKPROOF_TARGET=str(target)))
    assert wanted <= set(pass_env("--", "--target", str(target)))
    assert not wanted & set(pass_env(STACKPROOF_LAB_DIR=str(tmp_path / "no-lab")))
