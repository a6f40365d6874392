"""`headwater collect` whose start-up fails exits with the reason and a documented code, never
serves, never prints a traceback or a server panic."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.kit.processes import run_headwater

from ...conftest import BrokerProcess, free_port


def collect(*args: str) -> subprocess.CompletedProcess[str]:
    return run_headwater("collect", *args, timeout_s=60)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr, result.stderr
    assert "collector_started" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "fix:" in result.stderr


def test_a_port_in_use_exits_74_with_the_reason(broker: BrokerProcess) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = collect("--listen", f"127.0.0.1:{port}", "--broker", broker.bootstrap)
    assert_clean_failure(result, 74, f"127.0.0.1:{port}", "in use")


@pytest.mark.parametrize(
    ("broker", "code", "words"),
    [
        ("kinesis://us-east-1", 69, ("not available yet",)),
        ("kinesis://x", 2, ("expected an AWS region",)),
        ("ftp://h:1", 2, ("unknown scheme",)),
    ],
)
def test_an_unsupported_broker_exits_with_the_reason(broker: str, code: int, words: tuple) -> None:
    result = collect("--listen", f"127.0.0.1:{free_port()}", "--broker", broker)
    assert_clean_failure(result, code, *words)


def test_an_unreachable_broker_exits_69_instead_of_serving() -> None:
    dead = f"127.0.0.1:{free_port()}"
    result = collect("--listen", f"127.0.0.1:{free_port()}", "--broker", dead)
    assert_clean_failure(result, 69, dead, "did not answer")
