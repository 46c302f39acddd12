"""stackproof: acceptance and conformance checks for a deployed OpenStack cloud.

The package is the engine: target description, connections, safety tiers, the cleanup ledger, the one wait
primitive and the report model. Suites reach it through the pytest plugin in ``stackproof/plugin/``.

PYTEST_DONT_REWRITE: the engine raises its own errors and needs no assertion rewriting; the marker also keeps
pytest from warning that the package was imported before it (the `stackproof` command imports it first).
"""

__version__ = "0.1.0"
