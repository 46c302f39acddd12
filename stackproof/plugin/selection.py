"""Which checks a session runs: the controls asked for, its shard of them, and never a disruptive check
beside others.

``--control ID`` (repeatable) keeps only those controls' checks; an ID that the tier and area select no
check of is a usage error, never an empty green run. ``--shard K/N`` runs shard K of N of the controls
(stackproof/shards.py says how they are dealt); what is not in the shard is deselected (and counted as
outside this run's selection).

Disruptive checks kill services other checks rely on, so they never run under xdist, where other checks
run at the same time on the other workers: there they are skipped with the reason. `stackproof run` runs
them as a second phase in one process (-n 0) after the parallel phase.
"""

from __future__ import annotations

import pytest

from stackproof import secrets, shards
from stackproof.errors import StackproofError
from stackproof.plugin.checks import collected_controls
from stackproof.plugin.run import run_state

XDIST_REASON = ("disruptive check: not run under xdist (-n), where other checks run beside it; run it in a "
                "session of its own with -n 0 (stackproof run does so, as its second phase)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("stackproof").addoption(
        "--shard", dest="sp_shard", default=None, metavar="K/N",
        help="run only shard K of N of the controls (disruptive controls all in shard 1); merge the shards' "
             "report directories with `stackproof merge`")
    parser.getgroup("stackproof").addoption(
        "--control", dest="sp_controls", action="append", default=[], metavar="ID",
        help="run only this control's checks (repeatable, or comma-separated IDs)")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]):
    # A wrapper: runs after every other implementation, the control validation (trylast) included.
    result = yield
    state = run_state(config)
    if state is None:
        return result
    controls = collected_controls(config)
    _keep_asked_controls(config, items, controls)
    shard = config.getoption("sp_shard")
    if shard:
        try:
            k, n = shards.parse(shard)
        except StackproofError as exc:
            raise pytest.UsageError(secrets.redact(str(exc))) from None
        ordered = sorted({c.id for c in controls.values() if c.tier != "disruptive"})
        _keep_only(config, items, lambda control: control is None
                   or shards.shard_of(control.id, control.tier, ordered, n) == k, controls)
    if hasattr(config, "workerinput") and state.disruptive_allowed:
        for item in items:
            control = controls.get(item.nodeid)
            if control is not None and control.tier == "disruptive":
                item.add_marker(pytest.mark.skip(reason=XDIST_REASON))
    return result


def asked_controls(config: pytest.Config) -> list[str]:
    """The control IDs given with --control, in order, without repeats."""
    asked = [part.strip() for value in config.getoption("sp_controls", []) or [] for part in value.split(",")]
    return list(dict.fromkeys(part for part in asked if part))


def _keep_asked_controls(config: pytest.Config, items: list[pytest.Item], controls: dict) -> None:
    asked = asked_controls(config)
    if not asked:
        return
    selected = {control.id for control in controls.values()}
    missing = [control_id for control_id in asked if control_id not in selected]
    # A phase of a two-phase run holds only part of the tier: an ID may be the other phase's.
    if missing and not config.getoption("sp_phase", None):
        raise pytest.UsageError(f"--control {', '.join(missing)}: no check of the selected tier and area has "
                                f"{'this ID' if len(missing) == 1 else 'these IDs'} (`stackproof controls` lists "
                                "them)")
    _keep_only(config, items, lambda control: control is not None and control.id in asked, controls)


def _keep_only(config: pytest.Config, items: list[pytest.Item], keeps, controls: dict) -> None:
    """Deselect (and report as deselected) the items whose control `keeps` refuses; None for a non-check."""
    keep, drop = [], []
    for item in items:
        (keep if keeps(controls.get(item.nodeid)) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
