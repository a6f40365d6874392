"""The one way to stop: every long-running command ends cleanly on SIGTERM (exit 0), logging
`stopping` with the signal and `stopped` once its work has returned."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import BrokerProcess, free_port, wait_for_port
from tests.sources.cdc.conftest import PgDatabase, pg_db, postgres

__all__ = ["pg_db", "postgres"]  # PostgreSQL fixtures of the CDC tests, for cdc and snapshot


def events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(orjson.loads(line))
    return out


def wait_for_event(proc: subprocess.Popen[bytes], log: Path, event: str, timeout_s: float = 60):
    """Wait until the command's log has `event` (a condition with a deadline, not a sleep)."""
    end = time.monotonic() + timeout_s
    while not any(e.get("event") == event for e in events(log)):
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()}"
        assert time.monotonic() < end, f"no {event!r} after {timeout_s}s:\n{log.read_text()}"
        time.sleep(0.05)


def start(tmp_path: Path, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headwater", *args],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    return proc, log


def assert_stops_on_sigterm(proc: subprocess.Popen[bytes], log: Path, command: str) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"{command} ignored SIGTERM:\n{log.read_text()}") from None
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text
    stopped = [e for e in events(log) if e.get("event") == "stopped"]
    assert stopped and stopped[-1].get("command") == command, text


def test_broker_stops_on_sigterm(tmp_path: Path) -> None:
    broker = BrokerProcess(data_dir=tmp_path / "data").start()
    assert broker.proc is not None and broker.log_path is not None
    assert_stops_on_sigterm(broker.proc, broker.log_path, "broker")
    names = [e.get("event") for e in events(broker.log_path)]
    assert names.index("stopping") < names.index("broker_stopped") < names.index("stopped")


def test_sink_stops_on_sigterm(tmp_path: Path, broker: BrokerProcess) -> None:
    proc, log = start(
        tmp_path, "sink", "sink", "--broker", broker.bootstrap, "--lake", str(tmp_path / "lake")
    )
    wait_for_event(proc, log, "sink_started")
    assert_stops_on_sigterm(proc, log, "sink")
    assert "sink_stopped" in [e.get("event") for e in events(log)]


def test_video_stops_on_sigterm(tmp_path: Path, broker: BrokerProcess) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/live.m3u8"  # the follower keeps retrying it
    proc, log = start(
        tmp_path, "video", "video", "--stream", f"cam={nowhere}", "--broker", broker.bootstrap,
        "--lake", str(tmp_path / "objects"),
    )  # fmt: skip
    wait_for_event(proc, log, "playlist_error")
    assert_stops_on_sigterm(proc, log, "video")


@pytest.mark.timeout(180)
def test_collect_stops_on_sigterm(tmp_path: Path, broker: BrokerProcess) -> None:
    port = free_port()
    proc, log = start(
        tmp_path, "collect", "collect", "--listen", f"127.0.0.1:{port}",
        "--broker", broker.bootstrap,
    )  # fmt: skip
    wait_for_port("127.0.0.1", port, 60)
    assert_stops_on_sigterm(proc, log, "collect")


def test_cdc_stops_on_sigterm(tmp_path: Path, broker: BrokerProcess, pg_db: PgDatabase) -> None:
    pg_db.execute("CREATE TABLE items (id int PRIMARY KEY)")
    proc, log = start(
        tmp_path, "cdc", "cdc", pg_db.dsn, "--name", "stop", "--broker", broker.bootstrap
    )
    wait_for_event(proc, log, "replication_started")
    assert_stops_on_sigterm(proc, log, "cdc")


def test_a_scheduled_snapshot_stops_on_sigterm(tmp_path: Path, pg_db: PgDatabase) -> None:
    pg_db.execute("CREATE TABLE items (id int PRIMARY KEY)", "INSERT INTO items VALUES (1)")
    proc, log = start(
        tmp_path, "snapshot", "snapshot", pg_db.dsn, "--table", "items", "--every", "1h",
        "--lake", str(tmp_path / "lake"), "--no-progress",
    )  # fmt: skip
    wait_for_event(proc, log, "snapshot_written")  # then it waits an hour for the next one
    assert_stops_on_sigterm(proc, log, "snapshot")
