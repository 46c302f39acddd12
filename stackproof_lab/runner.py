"""One runner for every bring-up: declared steps, each with what it needs done before it runs.

``up``, a fault's clear and "the vCenter is back" all name the steps they want; the runner runs those and
everything they need, each step as soon as its needs are done, independent ones in parallel threads. A
failed step abandons every step still waiting; the first real failure is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stackproof_lab.errors import LabError


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], str | None]  # returns a note for the progress line (or None: say nothing)
    needs: tuple[str, ...] = ()


class Abandoned(LabError):
    """A step did not run because a step it needed failed."""


def closure(steps: dict[str, Step], targets: Iterable[str]) -> list[str]:
    """``targets`` and every step they need, transitively; unknown names are an error."""
    wanted: list[str] = []
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        if name not in steps:
            raise LabError(f"no lab step named {name!r}")
        wanted.append(name)
        stack.extend(steps[name].needs)
    return wanted


def run(steps: dict[str, Step], targets: Iterable[str], say: Callable[[str], None]) -> None:
    """Run ``targets`` and their needs; ``say`` prints progress."""
    names = closure(steps, targets)
    if not names:
        return  # nothing to run (a fault's readers all stopped by another fault in force)
    done = {name: threading.Event() for name in names}
    failed = threading.Event()
    errors: list[BaseException] = []

    def one(name: str) -> None:
        step = steps[name]
        try:
            for need in step.needs:
                while not done[need].wait(0.2):
                    if failed.is_set():
                        raise Abandoned(f"{name}: abandoned, a step it needs failed")
            note = step.run()
            if note:
                say(f"{name}: {note}")
            done[name].set()
        except BaseException as exc:
            errors.append(exc)
            failed.set()

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for name in names:
            pool.submit(one, name)
    if errors:
        raise next((e for e in errors if not isinstance(e, Abandoned)), errors[0])
