"""stackproof: acceptance and conformance checks for a deployed OpenStack cloud.

The package is the engine: target description, connections, safety tiers, the cleanup ledger, the one wait
primitive and the report model. Suites reach it only through the pytest fixtures in ``fixtures/``.
"""

__version__ = "0.1.0"
