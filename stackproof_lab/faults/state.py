"""Which faults are active: ``<state>/faults.json``, name -> {since, controls}."""

from __future__ import annotations

import json
import time
from typing import Any

from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout


def active(layout: Layout) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(layout.faults_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise LabError(f"{layout.faults_file} is not valid JSON; fix or delete it") from None


def save(layout: Layout, state: dict[str, dict[str, Any]]) -> None:
    tmp = layout.faults_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(layout.faults_file)


def entry(controls: tuple[str, ...]) -> dict[str, Any]:
    return {"since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "controls": list(controls)}
