"""Loads the stackproof plugins for every pytest run from this checkout.

The plugins stay dormant for the project's own tests (tests/); they wake for checks under suites/ or when a
target is named with --target.
"""

import importlib.util

pytest_plugins = [
    "fixtures.run",
    "fixtures.checks",
    "fixtures.clouds",
    "fixtures.resources",
    "fixtures.hosts",
    "fixtures.vcenter",
    "fixtures.faults",
]
if importlib.util.find_spec("xdist") is not None:
    pytest_plugins.append("fixtures.scheduling")
