"""Shards: N CI runners share a large cloud, each running shard K of N of the controls.

The non-disruptive controls, sorted by ID, are dealt round-robin (a control's parametrised variants stay
together, as they share its ID); every disruptive control goes to shard 1, so that no two runners disrupt
the cloud at once.
"""

from __future__ import annotations

import re

from stackproof.errors import StackproofError

SHARD = re.compile(r"^(?P<k>\d+)/(?P<n>\d+)$")
DISRUPTIVE_SHARD = 1


def parse(text: str) -> tuple[int, int]:
    """K/N, with 1 <= K <= N; bad input is one line (exit 4)."""
    match = SHARD.match(text.strip())
    if not match or not 1 <= int(match["k"]) <= int(match["n"]):
        raise StackproofError(f"--shard {text}: expected K/N with 1 <= K <= N, e.g. --shard 2/3")
    return int(match["k"]), int(match["n"])


def shard_of(control_id: str, tier: str, ordered_ids: list[str], shards: int) -> int:
    """The shard (1..N) a control belongs to; `ordered_ids` are the non-disruptive control IDs, sorted."""
    if tier == "disruptive":
        return DISRUPTIVE_SHARD
    return ordered_ids.index(control_id) % shards + 1
