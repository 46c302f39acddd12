"""The fault action layer: declared commands run on the role's host, restore always runs (failure, error
in the check, failing inject), health is awaited, and nothing runs outside a disruptive check."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import testinfra

from stackproof import safety
from stackproof.errors import SafetyViolation
from stackproof.fault_actions import FaultActionError, FaultActions, NotDeclared
from stackproof.target import Timeouts, load
from stackproof.waiting import Waiter, WaitTimeout


def target_with(tmp_path: Path, kill: str, start: str, cut: str = "true", restore: str = "true"):
    (tmp_path / "clouds.yaml").write_text("clouds: {}\n")
    path = tmp_path / "stackproof.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: t
        clouds_yaml: clouds.yaml
        clouds: {{cloud: c}}
        hosts:
          compute-vmware: {{urls: ["local://"]}}
        faults:
          services:
            nova-compute@vmware-1: {{role: compute-vmware, kill: "{kill}", start: "{start}"}}
          vcenter_access:
            vmware-1: {{role: compute-vmware, cut: "{cut}", restore: "{restore}"}}
        """))
    return load(path)


def actions_for(target, log: list[str] | None = None) -> FaultActions:
    host = testinfra.get_host("local://")
    waiter = Waiter(Timeouts(default=3, service_state=3, interval=0.1))
    return FaultActions(target, lambda role: [host], waiter, (log if log is not None else []).append)


@pytest.fixture
def disruptive_check():
    safety.enter(safety.CheckContext(nodeid="t::x", control_id="SP-T-001", tier="disruptive"))
    yield
    safety.leave()


def test_kill_then_restore_even_when_the_check_fails(tmp_path: Path, disruptive_check) -> None:
    down = tmp_path / "down"
    target = target_with(tmp_path, kill=f"touch {down}", start=f"rm -f {down}")
    actions = actions_for(target)
    with (pytest.raises(AssertionError, match="the check failed"),
          actions.service_killed("nova-compute", "vmware-1", healthy=lambda: not down.exists(),
                                 healthy_name="marker gone") as disruption):
        assert down.exists()
        raise AssertionError("the check failed")
    assert not down.exists()
    assert disruption.restored_at is not None and disruption.healthy_at is not None


def test_start_inside_the_block_restores_once(tmp_path: Path, disruptive_check) -> None:
    starts = tmp_path / "starts"
    target = target_with(tmp_path, kill="true", start=f"echo x >> {starts}")
    actions = actions_for(target)
    with actions.service_killed("nova-compute", "vmware-1", healthy=lambda: True, healthy_name="ok") as disruption:
        actions.start_service(disruption, "nova-compute", "vmware-1")
    assert starts.read_text().count("x") == 1


def test_a_failing_inject_is_still_restored_and_named(tmp_path: Path, disruptive_check) -> None:
    restored = tmp_path / "restored"
    target = target_with(tmp_path, kill="true", start="true", cut="echo no route >&2; exit 3",
                         restore=f"touch {restored}")
    with (pytest.raises(FaultActionError, match=r"exited 3: no route"),
          actions_for(target).vcenter_cut("vmware-1", healthy=lambda: True, healthy_name="ok")):
        pytest.fail("the block must not run when the cut failed")
    assert restored.exists()


def test_unhealthy_after_restore_is_a_bounded_wait_naming_what(tmp_path: Path, disruptive_check) -> None:
    target = target_with(tmp_path, kill="true", start="true")
    with (pytest.raises(WaitTimeout, match="nova-compute up after restoring"),
          actions_for(target).service_killed("nova-compute", "vmware-1", healthy=lambda: None,
                                             healthy_name="nova-compute up")):
        pass


def test_undeclared_actions_are_named(tmp_path: Path, disruptive_check) -> None:
    actions = actions_for(target_with(tmp_path, kill="true", start="true"))
    with pytest.raises(NotDeclared, match=r"faults.services.nova-compute@vmware-2"):
        actions.service("nova-compute", "vmware-2")
    with pytest.raises(NotDeclared, match=r"faults.vcenter_access.vmware-2"):
        actions.vcenter_access("vmware-2")


@pytest.mark.parametrize("tier", [None, "readonly", "workload"])
def test_nothing_runs_outside_a_disruptive_check(tmp_path: Path, tier: str | None) -> None:
    down = tmp_path / "down"
    actions = actions_for(target_with(tmp_path, kill=f"touch {down}", start="true"))
    if tier:
        safety.enter(safety.CheckContext(nodeid="t::x", control_id="SP-T-001", tier=tier))
    try:
        with (pytest.raises(SafetyViolation),
              actions.service_killed("nova-compute", "vmware-1", healthy=lambda: True, healthy_name="ok")):
            pass
    finally:
        safety.leave()
    assert not down.exists()
