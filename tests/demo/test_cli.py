"""`headwater demo` refuses sizes its churn set cannot be built from, before starting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("option", "value"), [("--days", "5"), ("--users", "10")])
def test_too_small_a_demo_is_refused_with_the_limit(option: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "headwater", "demo", option, value],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert result.returncode == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert "greater than or equal to" in result.stderr
