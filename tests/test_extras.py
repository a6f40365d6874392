"""The core install (no extras) runs the core commands; a command that needs an extra says which.

pyproject's `[project.optional-dependencies]` keeps PyAV, scikit-learn, pandas and the database
drivers out of a collector-only install. These tests run headwater in a subprocess whose imports
of those packages fail, as they would where the extras are not installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from headwater.errors import EXTRAS, UsageError, translate

_BLOCK = f"""
import importlib.abc, sys
class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in {sorted(EXTRAS)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Missing())
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_core_commands_import_without_any_extra():
    modules = [
        "headwater.cli",
        "headwater.broker.server",
        "headwater.sources.clickstream.app",
        "headwater.sink.runner",
        "headwater.query.sql",
        "headwater.transport",
    ]
    result = _run("import " + ", ".join(modules) + "; print('imported')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


@pytest.mark.parametrize("command", ["broker", "collect", "sink", "sql"])
def test_core_command_help_works_without_any_extra(command: str):
    result = _run("from headwater.cli import main; main()", command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_a_command_that_needs_an_extra_names_it_instead_of_a_traceback(tmp_path):
    result = _run(
        "from headwater.cli import main; main()",
        "video",
        "--stream",
        "cam=http://127.0.0.1:9/index.m3u8",
        "--lake",
        str(tmp_path / "objects"),
    )
    assert result.returncode == 2, result.stderr
    assert "headwater[video]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_module_outside_the_extras_is_still_a_bug():
    assert translate(ModuleNotFoundError("No module named 'x'", name="x")) is None
    error = translate(ModuleNotFoundError("No module named 'sklearn'", name="sklearn.metrics"))
    assert isinstance(error, UsageError) and "headwater[ml]" in str(error)
