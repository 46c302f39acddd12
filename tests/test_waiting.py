"""The one wait primitive: bounded, and on timeout it says what, last state, elapsed, and request IDs."""

from __future__ import annotations

import itertools

import pytest

from stackproof import connections, target
from stackproof.target import Timeouts
from stackproof.waiting import WaitAborted, Waiter, WaitTimeout, wait_for


def test_returns_the_value_once_the_condition_holds() -> None:
    states = iter(["BUILD", "BUILD", "ACTIVE"])
    assert wait_for(lambda: next(states), until=lambda s: s == "ACTIVE", timeout=5, interval=0.01,
                    description="server x to be ACTIVE") == "ACTIVE"


def test_timeout_names_what_last_state_elapsed_and_request_ids(project) -> None:
    tgt = target.load(project.path / "stackproof.yaml")
    conn = connections.connect(tgt, "fake")
    net = conn.network.create_network(name="sp-w-net")
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: conn.network.get_network(net.id), until=lambda n: n.status == "DOWN", timeout=0.3,
                 interval=0.05, description=f"network {net.id} to go DOWN")
    message = str(info.value)
    assert f"timed out waiting for network {net.id} to go DOWN" in message
    assert "last state: ACTIVE" in message and "(limit 0.3 s)" in message
    assert "request IDs: req-" in message


def test_terminal_state_aborts_at_once_with_the_reason() -> None:
    states = itertools.chain(["BUILD"], itertools.repeat("ERROR"))
    with pytest.raises(WaitAborted, match=r"server y .*fault: No valid host.*states: BUILD -> ERROR"):
        wait_for(lambda: next(states), until=lambda s: s == "ACTIVE", timeout=30, interval=0.01,
                 description="server y to be ACTIVE",
                 fail_if=lambda s: "fault: No valid host" if s == "ERROR" else None)


def test_waiter_takes_limits_from_the_timeout_profile() -> None:
    waiter = Waiter(Timeouts(server_active=0.2, interval=0.05))
    with pytest.raises(WaitTimeout, match=r"limit 0.2 s"):
        waiter.until(lambda: "BUILD", limit="server_active", until=lambda s: s == "ACTIVE", description="z")


def test_run_once_setup_happens_once_across_xdist_workers(project) -> None:
    project.check("placement/test_once.py", """
        import os
        from pathlib import Path
        from stackproof.once import once

        def produce():
            with open(Path(__file__).parents[2] / "produced", "a") as f:
                f.write(os.environ.get("PYTEST_XDIST_WORKER", "?") + "\\n")
            return {"value": 42}

        @pytest.mark.control("SP-AGG-004", title="Image audit", statement="Images carry hypervisor metadata.")
        @pytest.mark.readonly
        @pytest.mark.placement
        @pytest.mark.parametrize("i", range(4))
        def test_shared(run, i):
            assert once(run.report_dir, "facts", produce) == {"value": 42}

        @pytest.mark.control("SP-AGG-005", title="Traits", statement="Placement mirrors aggregates.")
        @pytest.mark.readonly
        @pytest.mark.placement
        class TestOther:
            @pytest.mark.parametrize("i", range(4))
            def test_shared_too(self, run, i):
                assert once(run.report_dir, "facts", produce) == {"value": 42}
        """)
    result = project.run("-n", "2", "--dist", "loadscope")
    result.assert_outcomes(passed=8)
    assert len((project.path / "produced").read_text().splitlines()) == 1
