"""Errors the user must see as one line, with the exit code that goes with them."""

from __future__ import annotations

#: Exit code for bad input: a broken target file, a missing cloud, a wrong password, an unreachable endpoint.
#: It matches pytest's own usage-error code, so `pytest` and `stackproof run` agree.
EXIT_BAD_INPUT = 4


class StackproofError(Exception):
    """An error with a message meant for the operator, printed as one line without a traceback."""

    exit_code = EXIT_BAD_INPUT


class TargetError(StackproofError):
    """The target description is missing or invalid; `problems` holds every problem found, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]

    @classmethod
    def of(cls, problems: list[str]) -> TargetError:
        """One error for several problems: the first, and how many more `stackproof validate` would list."""
        more = len(problems) - 1
        plural = "s" if more > 1 else ""
        suffix = f" (+{more} more problem{plural}: `stackproof validate` lists them all)" if more else ""
        return cls(problems[0] + suffix, problems)


class ConnectError(StackproofError):
    """A cloud, vCenter or host named by the target cannot be reached or refuses the credentials."""


class SafetyViolation(AssertionError):
    """A check tried something its tier forbids (a write in a readonly check).

    An AssertionError so that the check fails (red) rather than errors: the check itself is at fault.
    """
