"""The lab's fault catalogue (faults and the controls each must turn red), for the detection matrix.

The suite never imports the lab: it reads the catalogue as JSON, from a file (``--fault-catalogue FILE``,
what ``python -m stackproof_lab fault list --json`` prints) or, for a run against the lab, by asking the lab
program itself, started beside the run so that it costs the run no time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from stackproof.errors import StackproofError

LAB_PACKAGE = "stackproof_lab"
TIMEOUT = 30.0


class CatalogueError(StackproofError):
    """The catalogue file given cannot be read."""


def _validated(data: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("controls"), list)
            for f in data):
        raise CatalogueError(f"{where}: not a fault catalogue (a list of {{name, controls}})")
    return data


def from_file(path: Path | str) -> list[dict[str, Any]]:
    try:
        return _validated(json.loads(Path(path).read_text(encoding="utf-8")), str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"fault catalogue {path}: cannot be read: {exc}") from None


class LabCatalogue:
    """``python -m stackproof_lab fault list --json``, running while the checks do."""

    def __init__(self, project_root: Path, lab_dir: Path) -> None:
        env = dict(os.environ, STACKPROOF_LAB_DIR=str(lab_dir))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project_root), env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", LAB_PACKAGE, "fault", "list", "--json"], cwd=project_root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def available(project_root: Path) -> bool:
        return (Path(project_root) / LAB_PACKAGE / "__main__.py").is_file()

    def result(self, timeout: float = TIMEOUT) -> tuple[list[dict[str, Any]] | None, str | None]:
        """(catalogue, None), or (None, one line saying why there is none)."""
        try:
            out, err = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None, f"the lab's fault catalogue did not arrive within {timeout:g} s"
        if self._process.returncode != 0:
            last = (err.strip().splitlines() or ["no message"])[-1]
            return None, f"the lab's fault catalogue could not be read: {last}"
        try:
            return _validated(json.loads(out), "lab fault list"), None
        except (json.JSONDecodeError, CatalogueError) as exc:
            return None, f"the lab's fault catalogue could not be read: {exc}"
