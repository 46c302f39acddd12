"""The root conftest: nothing to load here.

The stackproof pytest plugin comes with the installed package (the ``pytest11`` entry points in
pyproject.toml), so a run from this checkout, from an installed wheel and from tox all load it the same way.
"""
