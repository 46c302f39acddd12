"""Bad input about clouds is one clear line (which cloud, which endpoint) and exit code 4, never a traceback."""

from __future__ import annotations

import socket

CHECK = """
@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="Two aggregates exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_x(cloud): assert True
"""


def one_line_error(result) -> str:
    assert result.ret == 4, result.stdout.str() + result.stderr.str()
    err = result.stderr.str()
    assert "Traceback" not in err and "Traceback" not in result.stdout.str()
    lines = [line for line in err.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_clouds_yaml_entry(project) -> None:
    project.write_target().write_text(project.write_target().read_text().replace("cloud: fake", "cloud: nosuch"))
    project.check("placement/test_x.py", CHECK)
    line = one_line_error(project.run())
    assert "cloud 'nosuch': no such entry in" in line and "clouds.yaml" in line


def test_wrong_password(project) -> None:
    project.fake.clouds_yaml(project.path / "clouds.yaml", password="wrong-password-123")
    project.check("placement/test_x.py", CHECK)
    line = one_line_error(project.run())
    assert "cloud 'fake': Keystone at" in line and "refused the credentials (401)" in line
    assert "wrong-password-123" not in line


def test_unreachable_keystone(project) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = (project.path / "clouds.yaml").read_text().replace(project.fake.url, f"http://127.0.0.1:{port}")
    (project.path / "clouds.yaml").write_text(text)
    project.check("placement/test_x.py", CHECK)
    line = one_line_error(project.run())
    assert f"cannot reach Keystone at http://127.0.0.1:{port}/identity/v3" in line
