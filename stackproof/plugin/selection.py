"""Which checks a session runs: its shard of the controls, and never a disruptive check beside others.

``--shard K/N`` splits the controls deterministically so that N CI runners can share a large cloud: the
non-disruptive controls, sorted by ID, are dealt round-robin (a control's parametrised variants stay
together), and every disruptive control goes to shard 1, so that no two runners disrupt the cloud at once.
What is not in the shard is deselected (and counted as outside this run's selection).

Disruptive checks kill services other checks rely on, so they never run under xdist, where other checks
run at the same time on the other workers: there they are skipped with the reason. `stackproof run` runs
them as a second phase in one process (-n 0) after the parallel phase.
"""

from __future__ import annotations

import re

import pytest

from stackproof.plugin.checks import collected_controls
from stackproof.plugin.run import run_state

SHARD = re.compile(r"^(?P<k>\d+)/(?P<n>\d+)$")
DISRUPTIVE_SHARD = 1
XDIST_REASON = ("disruptive check: not run under xdist (-n), where other checks run beside it; run it in a "
                "session of its own with -n 0 (stackproof run does so, as its second phase)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("stackproof").addoption(
        "--shard", dest="sp_shard", default=None, metavar="K/N",
        help="run only shard K of N of the controls (disruptive controls all in shard 1); merge the shards' "
             "report directories with `stackproof merge`")


def parse_shard(text: str) -> tuple[int, int]:
    match = SHARD.match(text.strip())
    if not match or not 1 <= int(match["k"]) <= int(match["n"]):
        raise pytest.UsageError(f"--shard {text}: expected K/N with 1 <= K <= N, e.g. --shard 2/3")
    return int(match["k"]), int(match["n"])


def shard_of(control_id: str, tier: str, ordered_ids: list[str], shards: int) -> int:
    """The shard (1..N) a control belongs to; `ordered_ids` are the non-disruptive control IDs, sorted."""
    if tier == "disruptive":
        return DISRUPTIVE_SHARD
    return ordered_ids.index(control_id) % shards + 1


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]):
    # A wrapper: runs after every other implementation, the control validation (trylast) included.
    result = yield
    state = run_state(config)
    if state is None:
        return result
    controls = collected_controls(config)
    shard = config.getoption("sp_shard")
    if shard:
        k, n = parse_shard(shard)
        ordered = sorted({c.id for c in controls.values() if c.tier != "disruptive"})
        keep, drop = [], []
        for item in items:
            control = controls.get(item.nodeid)
            inside = control is None or shard_of(control.id, control.tier, ordered, n) == k
            (keep if inside else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    if hasattr(config, "workerinput") and state.disruptive_allowed:
        for item in items:
            control = controls.get(item.nodeid)
            if control is not None and control.tier == "disruptive":
                item.add_marker(pytest.mark.skip(reason=XDIST_REASON))
    return result
