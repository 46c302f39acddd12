"""The engine's NSX client (stackproof.nsx): credentials and TLS from the target, one-line errors, the tier guard
and the API record on every request, against the lab's NSX manager run as a test double."""

from __future__ import annotations

from pathlib import Path

import pytest
from nsxserver import NsxServer

from stackproof import apilog, nsx, safety
from stackproof.errors import ConnectError, SafetyViolation
from stackproof.target import Target
from stackproof_lab.nsx import tls


def target_for(server: NsxServer, tmp_path: Path, *, password: str | None = None, ca: Path | None = None) -> Target:
    secure = tmp_path / "secure.yaml"
    secure.write_text(f"nsx: {{password: {password or server.password}}}\n")
    return Target.model_validate({
        "name": "t", "clouds": {"cloud": "c"}, "secure_yaml": str(secure),
        "nsx": {"url": server.url, "user": server.user, "password": {"secure": "nsx.password"},
                "ca_bundle": str(ca or server.ca_file)},
    })


def test_reads_with_the_targets_ca_even_when_requests_would_use_another(nsx_server: NsxServer, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets $REQUESTS_CA_BUNDLE replace a session's own CA: the target's must win.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    policy = nsx.connect(target_for(nsx_server, tmp_path))
    assert [tz["display_name"] for tz in policy.transport_zones()] == ["sp-overlay-tz"]
    assert policy.segment("missing") is None and policy.security_policy("default", "missing") is None


def test_wrong_password_is_one_line(nsx_server: NsxServer, tmp_path: Path) -> None:
    with pytest.raises(ConnectError) as info:
        nsx.connect(target_for(nsx_server, tmp_path, password="not-the-password"))
    message = str(info.value)
    assert "refused the credentials of admin" in message and "\n" not in message
    assert "not-the-password" not in message


def test_a_manager_the_ca_does_not_vouch_for_is_refused(nsx_server: NsxServer, tmp_path: Path) -> None:
    other_ca, _, _ = tls.ensure(tmp_path / "other-ca")
    with pytest.raises(ConnectError) as info:
        nsx.connect(target_for(nsx_server, tmp_path, ca=other_ca))
    assert f"TLS verification failed for {nsx_server.url} ({other_ca})" in str(info.value)


def test_an_unreachable_manager_is_one_line(nsx_server: NsxServer, tmp_path: Path) -> None:
    nsx_server.stop()
    with pytest.raises(ConnectError) as info:
        nsx.connect(target_for(nsx_server, tmp_path))
    assert f"cannot reach {nsx_server.url}: ConnectionError" in str(info.value)


def test_readonly_check_sends_only_gets_and_every_request_is_recorded(nsx_server: NsxServer, tmp_path: Path) -> None:
    policy = nsx.connect(target_for(nsx_server, tmp_path))
    position = apilog.mark()
    safety.enter(safety.CheckContext("suites/nsx/test_x.py::test_x", "SP-NSX-099", "readonly"))
    try:
        assert policy.segments() == []
        with pytest.raises(SafetyViolation):
            policy.lib.segment.create_or_overwrite("x", segment_id="x", transport_zone_id="tz")
    finally:
        context = safety.leave()
    assert context.violations and "tried PATCH" in context.violations[0]
    calls = apilog.since(position)
    assert [(c.method, c.path, c.status) for c in calls if c.status] == [("GET", "/policy/api/v1/infra/segments", 200)]
    assert all(c.check == "suites/nsx/test_x.py::test_x" for c in calls)
    assert any(c.method == "PATCH" and c.error for c in calls), "the refused write is on the record too"
    assert policy.segment("x") is None, "nothing was written"
