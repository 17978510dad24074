"""The import contracts of ``make lint`` (.importlinter) hold, and they catch a lower app importing a higher one,
``core`` importing an app, and a cycle inside an app. Each check runs lint-imports on a copy of the project's
packages with one import planted (no database, well under a second per run)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["core", "accounts", "chapters", "narrative_pipeline", "marketplace", "luna_site"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture
def project(tmp_path) -> Path:
    """The packages' Python files and the contracts, copied (nothing else is needed to draw the import graph)."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def lint(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=project, capture_output=True,
                          text=True, timeout=60)


def plant(project: Path, module: str, line: str) -> None:
    path = project / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_project_keeps_its_import_contracts():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_copy_is_kept_as_it_is(project):
    assert lint(project).returncode == 0


@pytest.mark.parametrize(("module", "line", "importer", "imported"), [
    ("chapters/triggers.py", "from narrative_pipeline import services", "chapters.triggers",
     "narrative_pipeline.services"),
    ("accounts/views.py", "from marketplace import selectors", "accounts.views", "marketplace.selectors"),
    ("narrative_pipeline/selectors.py", "from luna_site import views", "narrative_pipeline.selectors",
     "luna_site.views"),
])
def test_a_lower_app_importing_a_higher_one_breaks_the_layers(project, module, line, importer, imported):
    plant(project, module, line)
    result = lint(project)
    assert result.returncode == 1
    assert "Apps depend one way" in result.stdout and "BROKEN" in result.stdout
    assert f"{importer} -> {imported}" in result.stdout


def test_an_import_inside_a_function_counts_too(project):
    plant(project, "chapters/evaluation.py", "def _story():\n    from narrative_pipeline.models import Story\n\n"
                                             "    return Story")
    result = lint(project)
    assert result.returncode == 1
    assert "chapters.evaluation -> narrative_pipeline.models" in result.stdout


def test_core_importing_an_app_breaks_its_contract(project):
    plant(project, "core/embeddings.py", "from accounts import models")
    result = lint(project)
    assert result.returncode == 1
    assert "core imports no app BROKEN" in result.stdout


def test_a_cycle_between_the_modules_of_an_app_is_refused(project):
    plant(project, "narrative_pipeline/snapshots.py", "from . import export")  # export reads snapshots
    result = lint(project)
    assert result.returncode == 1
    assert "No cycles between the modules of an app BROKEN" in result.stdout
