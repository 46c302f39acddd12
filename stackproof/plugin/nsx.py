"""The NSX manager, through the engine's NSX Policy client, connected on first use."""

from __future__ import annotations

import pytest

from stackproof import nsx
from stackproof.errors import ConnectError
from stackproof.runstate import RunState


class NsxManager:
    """The target's NSX manager; ``policy()`` connects once per process (a failure is remembered, not retried)."""

    def __init__(self, run: RunState) -> None:
        self._target = run.target
        self._policy: nsx.NsxPolicy | None = None
        self._failure: str | None = None

    def policy(self) -> nsx.NsxPolicy:
        if self._target.nsx is None:
            pytest.skip("the target describes no NSX manager (nsx:)")
        if self._policy is None and self._failure is None:
            try:
                self._policy = nsx.connect(self._target)
            except ConnectError as exc:
                self._failure = str(exc)
        if self._failure is not None:
            pytest.fail(self._failure, pytrace=False)
        return self._policy


@pytest.fixture(scope="session")
def nsx_manager(run: RunState) -> NsxManager:
    return NsxManager(run)
