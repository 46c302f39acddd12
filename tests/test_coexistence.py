"""stackproof lives beside tempest: PyPI's `fixtures` (testtools, stestr and tempest need it) and tempest.lib
import as themselves next to stackproof, in a plain process and inside a run, even with this checkout, whose
top-level `fixtures/` folder holds data, first on sys.path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

IMPORTS = """
import sys
import fixtures
import stackproof, stackproof.plugin.run, stackproof.connections
import tempest.lib
from tempest.lib.common import rest_client
from fixtures import Fixture, MonkeyPatch
assert "site-packages" in fixtures.__file__, fixtures.__file__
assert issubclass(MonkeyPatch, Fixture)
class Counted(Fixture):
    def _setUp(self):
        self.addCleanup(lambda: None)
with Counted():
    pass
print("ok", fixtures.__file__, tempest.lib.__file__, rest_client.RestClient.__name__)
"""


def test_fixtures_and_tempest_import_beside_stackproof_in_a_plain_process() -> None:
    result = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n{IMPORTS}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
    assert (REPO / "fixtures").is_dir() and not (REPO / "fixtures" / "__init__.py").exists()
    assert not list((REPO / "fixtures").rglob("*.py")), "fixtures/ holds data only"


def test_fixtures_and_tempest_import_as_themselves_inside_a_run(project) -> None:
    # Laid out as this checkout: suites/ a package, so pytest puts the project root (with fixtures/) on sys.path.
    (project.path / "suites" / "__init__.py").write_text("")
    (project.path / "suites" / "placement").mkdir()
    (project.path / "suites" / "placement" / "__init__.py").write_text("")
    (project.path / "fixtures" / "targets").mkdir(parents=True)
    (project.path / "fixtures" / "README.md").write_text("data\n")
    project.check("placement/test_beside_tempest.py", textwrap.dedent("""
        from pathlib import Path

        @pytest.mark.control("SP-AGG-002", title="t", statement="s")
        @pytest.mark.readonly
        @pytest.mark.placement
        def test_imports(cloud):
            import sys
            assert str(Path(__file__).parents[2]) in sys.path, "the project root, with fixtures/, is importable"
            list(cloud.compute.servers())
        """) + textwrap.indent(IMPORTS, "    "))
    result = project.run("-s")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*ok */site-packages/fixtures/__init__.py */tempest/lib/__init__.py RestClient*"])
