"""The exit codes of `stackproof run`, `pytest suites`, `merge` and `compare`; pytest's meaning where it has one.

The README's table lists them; `stackproof.errors.EXIT_BAD_INPUT` is the same 4.
"""

from __future__ import annotations

OK = 0
#: A check failed or errored, the leak audit found something, a cleanup failed, or a waiver has expired;
#: for `compare`, a regression.
FAILED = 1
#: Ctrl-C or SIGTERM (pytest: interrupted; also a collection error, as pytest reports it).
INTERRUPTED = 2
#: A bug in stackproof or pytest (pytest: internal error).
INTERNAL = 3
#: Bad input: target, waivers, arguments (pytest: usage error).
BAD_INPUT = 4
#: Nothing collected: no check at the given paths (pytest: no tests collected).
NOTHING_COLLECTED = 5
#: Checks were collected but none was evaluated: every control skipped or deselected. A green run that
#: checked nothing must not pass for a green run.
NOTHING_EVALUATED = 6

MEANING = {
    OK: "every evaluated control passed (or is waived)",
    FAILED: "a control failed or errored, something was left in the cloud, or a waiver expired",
    INTERRUPTED: "interrupted (Ctrl-C, SIGTERM) or the checks could not be collected",
    INTERNAL: "internal error",
    BAD_INPUT: "bad input",
    NOTHING_COLLECTED: "no check collected",
    NOTHING_EVALUATED: "nothing evaluated: every control was skipped or deselected",
}
