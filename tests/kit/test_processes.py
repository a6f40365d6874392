"""The kit's process handling, on small real Python subprocesses: ready on a line or a port,
a start that fails shows the log, SIGTERM then SIGKILL, log tails for a failing test's report."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess, is_listening, log_tails, run_headwater


def python(tmp_path: Path, code: str, name: str = "child") -> ManagedProcess:
    return ManagedProcess([sys.executable, "-u", "-c", code], tmp_path / f"{name}.log", name=name)


def test_a_process_is_ready_once_it_logs_the_line(tmp_path: Path) -> None:
    child = python(tmp_path, "import time; print('warming'); print('ready'); time.sleep(60)")
    child.start(ready_line="ready", deadline_s=30)
    try:
        assert child.alive() and "warming" in child.log_text()
    finally:
        assert child.stop() == -signal.SIGTERM


def test_a_process_is_ready_once_its_port_listens(tmp_path: Path) -> None:
    port = free_port()
    code = (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"
    )
    child = python(tmp_path, code).start(ready_port=("127.0.0.1", port), deadline_s=30)
    try:
        assert is_listening("127.0.0.1", port)
    finally:
        child.stop()


def test_a_process_that_exits_before_ready_fails_the_start_with_its_log(tmp_path: Path) -> None:
    child = python(tmp_path, "import sys; print('bad config: no such file'); sys.exit(3)")
    with pytest.raises(RuntimeError, match=r"(?s)child did not start.*bad config: no such file"):
        child.start(ready_line="ready", deadline_s=30)
    assert child.returncode == 3


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready'); time.sleep(60)"
    )
    child = python(tmp_path, code).start(ready_line="ready", deadline_s=30)
    assert child.stop(timeout_s=0.5) == -signal.SIGKILL


def test_log_tails_head_each_log_with_its_command_and_exit(tmp_path: Path) -> None:
    child = python(tmp_path, "print('x' * 5000); print('the end')")
    child.start()
    child.wait(30)
    tail = log_tails([child, child])
    assert tail.count("== child (exit 0)") == 1 and tail.rstrip().endswith("the end")
    assert len(tail) < 4200


def test_run_headwater_captures_a_usage_error() -> None:
    done = run_headwater("no-such-command", timeout_s=60)
    assert done.returncode == 2 and "no-such-command" in done.stderr
