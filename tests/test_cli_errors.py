"""The CLI's one error boundary: a user's mistake ends with `error:`/`fix:` and its exit code,
never a traceback; our own bugs keep their traceback and exit 70."""

from __future__ import annotations

import errno
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import transport
from headwater.errors import (
    EX_DATAERR,
    EX_IOERR,
    EX_SOFTWARE,
    EX_UNAVAILABLE,
    EX_USAGE,
    UsageError,
    boundary,
    translate,
)
from tests.conftest import free_port
from tests.kit.processes import run_headwater


def headwater(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_headwater(*args, timeout_s=timeout, cwd=cwd)


def assert_user_error(result: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "\nerror: " in "\n" + result.stderr and "\nfix: " in result.stderr, result.stderr
    for text in says:
        assert text in result.stderr, result.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_sink_with_a_kinesis_broker_is_a_usage_error(tmp_path: Path) -> None:
    result = headwater("sink", "--broker", "kinesis://x", cwd=tmp_path)
    assert_user_error(result, EX_USAGE, "kinesis://x", "--broker")


def test_broker_on_a_port_in_use_says_so(tmp_path: Path, taken_port: int) -> None:
    result = headwater(
        "broker", "--listen", f"127.0.0.1:{taken_port}", "--data-dir", str(tmp_path / "d"),
        cwd=tmp_path,
    )  # fmt: skip
    assert_user_error(result, EX_UNAVAILABLE, "address already in use", "--listen")


def test_video_without_a_broker_says_there_is_none(tmp_path: Path) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    result = headwater(
        "video", "--stream", "cam=http://127.0.0.1:9/live.m3u8", "--broker", nobody, cwd=tmp_path
    )
    assert_user_error(result, EX_UNAVAILABLE, "no broker", "headwater broker")


def test_sql_on_a_missing_lake_says_the_lake_is_not_there(tmp_path: Path) -> None:
    result = headwater("sql", "--lake", "/no/such/dir", "SELECT 1", cwd=tmp_path)
    assert_user_error(result, EX_USAGE, "no lake at /no/such/dir", "--lake")


def test_an_unexpected_exception_is_a_bug_with_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited, boundary():
        raise RuntimeError("oops")
    assert exited.value.code == EX_SOFTWARE
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: oops" in err and "bug" in err


def test_an_error_with_exit_code_and_hint_attributes_is_taken_as_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class LockHeld(Exception):  # as helpers raise before they import headwater.errors
        exit_code = 73
        hint = "stop the other process"

    with pytest.raises(SystemExit) as exited, boundary():
        raise LockHeld("data dir is locked")
    assert exited.value.code == 73
    assert capsys.readouterr().err == "error: data dir is locked\nfix: stop the other process\n"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UsageError("bad", "fix it"), EX_USAGE),
        (transport.TransportConfigError("bad url"), EX_USAGE),
        (transport.BrokerUnavailableError("down"), EX_UNAVAILABLE),
        (transport.TopicError("bad name", topic="a b"), EX_USAGE),
        (
            transport.DeliveryError(
                "too large", name="MSG_SIZE_TOO_LARGE", code=10, retriable=False
            ),
            EX_DATAERR,
        ),
        (transport.QueueFullError("queue full"), EX_UNAVAILABLE),
        (OSError(errno.EADDRINUSE, "address already in use"), EX_UNAVAILABLE),
        (PermissionError(errno.EACCES, "Permission denied", "/etc/x"), EX_IOERR),
        (OSError(errno.ENOSPC, "No space left on device", "/d/f"), EX_IOERR),
    ],
)
def test_known_errors_map_to_their_documented_codes(exc: Exception, code: int) -> None:
    error = translate(exc)
    assert error is not None and error.exit_code == code and error.hint


def test_an_unknown_exception_is_not_translated() -> None:
    assert translate(KeyError("x")) is None


def test_the_help_documents_the_exit_codes(tmp_path: Path) -> None:
    result = headwater("--help", cwd=tmp_path)
    listed = re.findall(r"^\s*(\d+)  \w", result.stdout, re.MULTILINE)
    assert listed == ["0", "2", "65", "69", "70", "74"], result.stdout
