"""One broker per data directory: real `headwater broker` processes on one `--data-dir`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from tests.broker.clients import produce, read_partition
from tests.conftest import BrokerProcess, free_port

TOPIC = "locked"


def files_of(directory: Path) -> dict[str, str]:
    """Every file under `directory` with a digest of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def second_broker(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`headwater broker` on another port and the same directory, run to its exit."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "headwater",
            "broker",
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def values(prefix: str, n: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(n)]


def test_second_broker_on_a_data_dir_in_use_refuses_and_touches_nothing(broker_factory) -> None:
    first: BrokerProcess = broker_factory("--flush", "always")
    produce(first.bootstrap, TOPIC, values("before", 50))
    before = files_of(first.data_dir)

    result = second_broker(first.data_dir)

    assert result.returncode == 69  # EX_UNAVAILABLE: the directory is taken
    assert str(first.data_dir) in result.stderr
    assert f"process {first.proc.pid}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert files_of(first.data_dir) == before
    assert first.alive()
    produce(first.bootstrap, TOPIC, values("after", 50))
    stored = [m.value() for m in read_partition(first.bootstrap, TOPIC)]
    assert stored == values("before", 50) + values("after", 50)


def test_data_dir_is_free_again_after_a_clean_stop(broker_factory) -> None:
    first: BrokerProcess = broker_factory()
    produce(first.bootstrap, TOPIC, values("one", 10))
    assert first.stop() == 0
    second = broker_factory(data_dir=first.data_dir)
    assert [m.value() for m in read_partition(second.bootstrap, TOPIC)] == values("one", 10)


def test_data_dir_is_free_again_after_kill_9(broker_factory) -> None:
    first: BrokerProcess = broker_factory()
    produce(first.bootstrap, TOPIC, values("one", 10))
    first.kill()
    second = broker_factory(data_dir=first.data_dir)
    assert [m.value() for m in read_partition(second.bootstrap, TOPIC)] == values("one", 10)
