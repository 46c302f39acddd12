"""The project's pytest settings, carried by the plugin itself.

A suite run must look the same from this checkout, from an installed wheel, and with a --target outside any
checkout (no pyproject.toml, no pytest.ini): the markers checks use are registered, JUnit is xunit1 (per-case
properties: control ID, title, statement, expected/found/where), and the client libraries' deprecation warnings,
which an operator cannot act on and which bury the warnings that matter, are kept off the terminal.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pytest

from stackproof.controls import AREAS

SUITES_DIR = "suites"
SUITES_KEY = pytest.StashKey[Path]()
JUNIT_FAMILY = "xunit1"
AREA_TITLES = {
    "nested": "OpenStack on OpenStack",
    "placement": "image metadata lands instances on the right aggregate",
    "vmdk": "VMDK transfer behaviour",
    "nsx": "NSX network attachment",
    "block_storage": "Block Storage on both hypervisors",
    "failover": "nova-compute failover",
}

MARKERS = (
    "control(id, title, statement): the stable control a check verifies (see stackproof/controls.py)",
    "readonly: tier: only GET/HEAD against APIs and reading commands on hosts",
    "workload: tier: creates resources under the run's names and deletes them",
    "disruptive: tier: kills services or changes cluster config; needs --allow-disruptive=<target name>",
    *(f"{area}: area: {AREA_TITLES.get(area, area)}" for area in AREAS),
)

# (category, module the warning is attributed to): deprecations inside the client libraries.
QUIET_DEPRECATIONS = (
    ("openstack.warnings.OpenStackDeprecationWarning", ""),
    ("openstack.warnings.RemovedInSDK50Warning", ""),
    ("openstack.warnings.RemovedInSDK60Warning", ""),
    ("DeprecationWarning", "openstack"),
    ("DeprecationWarning", "keystoneauth1"),
    ("DeprecationWarning", "pyVmomi"),
    ("DeprecationWarning", "pyVim"),
    ("DeprecationWarning", "testinfra"),
    ("DeprecationWarning", "paramiko"),
    ("cryptography.utils.CryptographyDeprecationWarning", ""),
    # vmware-nsxlib (the NSX area's client) imports eventlet and oslo's eventlet helpers, and uses distutils.
    ("eventlet.EventletDeprecationWarning", ""),
    ("DeprecationWarning", "vmware_nsxlib"),
    ("DeprecationWarning", "oslo_utils"),
    ("DeprecationWarning", "oslo_service"),
)


def suites_dir(config: pytest.Config) -> Path:
    """Where the checks are: <rootdir>/suites, or else the `suites` directory an argument lies in (`pytest
    /elsewhere/suites --target ...` run from another directory, with no ini file, gets a rootdir of pytest's
    choosing)."""
    found = config.stash.get(SUITES_KEY, None)
    if found is None:
        found = config.rootpath / SUITES_DIR
        if not found.is_dir():
            for path in _arg_paths(config):
                named = next((p for p in (path, *path.parents) if p.name == SUITES_DIR), None)
                if named is not None:
                    found = named
                    break
        config.stash[SUITES_KEY] = found
    return found


def _arg_paths(config: pytest.Config) -> list[Path]:
    paths = []
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        paths.append((path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve())
    return paths


def is_suite_run(config: pytest.Config) -> bool:
    """A run of checks: tests under the suites directory, or an explicit --target."""
    if config.getoption("sp_target", None):
        return True
    suites = suites_dir(config).resolve()
    return any(path == suites or suites in path.parents for path in _arg_paths(config))


def _category(dotted: str) -> type[Warning] | None:
    module, _, name = dotted.rpartition(".")
    try:
        with warnings.catch_warnings():  # importing the library to find its class must not warn (eventlet does)
            warnings.simplefilter("ignore")
            return getattr(importlib.import_module(module or "builtins"), name)
    except (ImportError, AttributeError):
        return None  # a library that is not installed warns about nothing


def configure(config: pytest.Config) -> None:
    """Called first thing in the run's pytest_configure (before a probe can warn, before junitxml starts)."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    workerinput = getattr(config, "workerinput", None)
    if not (workerinput.get("stackproof_run_id") if workerinput is not None else is_suite_run(config)):
        return
    for dotted, module in QUIET_DEPRECATIONS:
        category = _category(dotted)
        if category is None:
            continue
        # pytest applies these around each test; the process-wide filter covers configure time and imports.
        config.addinivalue_line("filterwarnings", f"ignore::{dotted}:{module}" if module else f"ignore::{dotted}")
        warnings.filterwarnings("ignore", category=category, module=module)
    _junit_family(config)


def _junit_family(config: pytest.Config) -> None:
    """xunit1 for a suite run unless `-o junit_family=...` asks otherwise.

    pytest offers no public way for a plugin to set an ini value, so the value is placed in the config's ini
    cache before the junitxml plugin reads it (in its own pytest_configure, which runs after the run's).
    """
    overrides = getattr(config.option, "override_ini", None) or []
    if any(item.startswith("junit_family=") for item in overrides):
        return
    config._inicache["junit_family"] = JUNIT_FAMILY
