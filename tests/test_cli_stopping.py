"""The one way to stop: every long-running command ends cleanly on SIGTERM (exit 0), logging
`stopping` with the signal and `stopped` once its work has returned."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import BrokerProcess, free_port
from tests.kit.processes import HEADWATER, ManagedProcess, log_file
from tests.kit.waiting import wait_until
from tests.sources.cdc.conftest import PgDatabase, pg_db, postgres

__all__ = ["pg_db", "postgres"]  # PostgreSQL fixtures of the CDC tests, for cdc and snapshot


#: The `start` fixture: `start("sink", "--broker", …)` starts `python -m headwater sink …`.
Start = Callable[..., ManagedProcess]


def events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(orjson.loads(line))
    return out


def wait_for_event(process: ManagedProcess, event: str, deadline_s: float = 60) -> None:
    """Until the command logs `event`; fails at once if it exits first."""

    def logged() -> bool:
        if any(e.get("event") == event for e in events(process.log_path)):
            return True
        assert process.alive(), f"exited {process.returncode}:\n{process.log_text()}"
        return False

    wait_until(logged, deadline_s, f"{event!r} in the {process.name} log")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start `python -m headwater ARGS` in `tmp_path` (relative defaults stay there), not waited
    on; whatever a failing test left running is stopped at teardown."""
    started: list[ManagedProcess] = []

    def make(*args: str) -> ManagedProcess:
        name = args[0]
        cmd = [*HEADWATER, *args]
        started.append(ManagedProcess(cmd, log_file(tmp_path, name), name=name, cwd=tmp_path))
        return started[-1].start()

    yield make
    for process in started:
        process.stop()


def assert_stops_on_sigterm(process: ManagedProcess, command: str) -> None:
    code = process.stop(signal.SIGTERM, timeout_s=60)  # SIGKILL after that
    text = process.log_text()
    assert code != -signal.SIGKILL, f"{command} ignored SIGTERM:\n{text}"
    assert code == 0, text
    assert "Traceback" not in text, text
    stopped = [e for e in events(process.log_path) if e.get("event") == "stopped"]
    assert stopped and stopped[-1].get("command") == command, text


def test_broker_stops_on_sigterm(broker: BrokerProcess) -> None:
    assert broker.process is not None
    assert_stops_on_sigterm(broker.process, "broker")
    names = [e.get("event") for e in events(broker.process.log_path)]
    assert names.index("stopping") < names.index("broker_stopped") < names.index("stopped")


def test_sink_stops_on_sigterm(start: Start, tmp_path: Path, broker: BrokerProcess) -> None:
    sink = start("sink", "--broker", broker.bootstrap, "--lake", str(tmp_path / "lake"))
    wait_for_event(sink, "sink_started")
    assert_stops_on_sigterm(sink, "sink")
    assert "sink_stopped" in [e.get("event") for e in events(sink.log_path)]


def test_video_stops_on_sigterm(start: Start, tmp_path: Path, broker: BrokerProcess) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/live.m3u8"  # the follower keeps retrying it
    video = start(
        "video", "--stream", f"cam={nowhere}", "--broker", broker.bootstrap,
        "--lake", str(tmp_path / "objects"),
    )  # fmt: skip
    wait_for_event(video, "playlist_error")
    assert_stops_on_sigterm(video, "video")


@pytest.mark.timeout(180)
def test_collect_stops_on_sigterm(start: Start, broker: BrokerProcess) -> None:
    port = free_port()
    collect = start("collect", "--listen", f"127.0.0.1:{port}", "--broker", broker.bootstrap)
    collect.wait_for_port("127.0.0.1", port, 60)
    assert_stops_on_sigterm(collect, "collect")


def test_cdc_stops_on_sigterm(start: Start, broker: BrokerProcess, pg_db: PgDatabase) -> None:
    pg_db.execute("CREATE TABLE items (id int PRIMARY KEY)")
    cdc = start("cdc", pg_db.dsn, "--name", "stop", "--broker", broker.bootstrap)
    wait_for_event(cdc, "replication_started")
    assert_stops_on_sigterm(cdc, "cdc")


def test_a_scheduled_snapshot_stops_on_sigterm(
    start: Start, tmp_path: Path, pg_db: PgDatabase
) -> None:
    pg_db.execute("CREATE TABLE items (id int PRIMARY KEY)", "INSERT INTO items VALUES (1)")
    snapshot = start(
        "snapshot", pg_db.dsn, "--table", "items", "--every", "1h",
        "--lake", str(tmp_path / "lake"), "--no-progress",
    )  # fmt: skip
    wait_for_event(snapshot, "snapshot_written")  # then it waits an hour for the next one
    assert_stops_on_sigterm(snapshot, "snapshot")
