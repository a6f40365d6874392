"""`headwater demo` refuses sizes its churn set cannot be built from, before starting anything."""

from __future__ import annotations

import os

import pytest

from tests.kit.processes import run_headwater

#: A plain environment with a wide terminal, so the usage error's message is not wrapped; it
#: keeps PYTHONPATH (the code under test may be a checkout's src, not the installed package).
PLAIN_WIDE_ENV = {"COLUMNS": "200", "PATH": "/usr/bin"} | (
    {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
)


@pytest.mark.parametrize(("option", "value"), [("--days", "5"), ("--users", "10")])
def test_too_small_a_demo_is_refused_with_the_limit(option: str, value: str) -> None:
    result = run_headwater("demo", option, value, timeout_s=60, env=PLAIN_WIDE_ENV)
    assert result.returncode == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert "greater than or equal to" in result.stderr
