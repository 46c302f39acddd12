"""How a check says it failed: expected, found, and where (IDs, hosts, request IDs).

`expect()` is the one way a check asserts. The structured fields travel with the pytest report into the
JUnit properties, the HTML report and evidence.json, so an auditor sees expected vs found without reading a
traceback.
"""

from __future__ import annotations

from typing import Any


class CheckFailed(AssertionError):
    def __init__(self, summary: str, *, expected: Any, found: Any, where: Any) -> None:
        self.summary, self.expected, self.found, self.where = summary, expected, found, where
        super().__init__(self.render())

    def render(self) -> str:
        return (
            f"{self.summary}\n  expected: {_text(self.expected)}\n  found:    {_text(self.found)}\n"
            f"  where:    {_text(self.where)}"
        )

    def fields(self) -> dict[str, str]:
        return {"expected": _text(self.expected), "found": _text(self.found), "where": _text(self.where)}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def expect(condition: bool, summary: str, *, expected: Any, found: Any, where: Any) -> None:
    """Fail the running check with a CheckFailed unless `condition` holds."""
    if not condition:
        raise CheckFailed(summary, expected=expected, found=found, where=where)
