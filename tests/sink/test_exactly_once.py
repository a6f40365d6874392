"""`headwater sink` processes killed with -9 at random, restarted and rebalanced: every produced
record lands in the table exactly once (real broker, real sink processes, the table read back)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

import headwater.transport as hwt

from ..conftest import BrokerProcess
from ..lake.events import click_value
from ..transport.support import wait_until

TOPIC = "clickstream.events"
PARTITIONS = 4


class SinkProcess:
    """One `headwater sink` subprocess with its own log file."""

    def __init__(self, broker: str, lake: Path, log_dir: Path, n: int) -> None:
        self.log_path = log_dir / f"sink-{n}.log"
        cmd = [sys.executable, "-m", "headwater", "sink", "--broker", broker, "--lake", str(lake),
               "--group", "lake-test", "--max-rows", "300", "--max-age-s", "0.2",
               "--session-timeout-ms", "6000"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM once the sink runs: one still starting has no handler yet and would die of it."""
        if self.proc.poll() is None:
            wait_until(lambda: "sink_started" in self.log() or self.proc.poll() is not None,
                       60, "the sink started")  # fmt: skip
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def produce(bootstrap: str, first: int, last: int) -> None:
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for i in range(first, last):
            producer.produce(TOPIC, click_value(i), key=b"s%d" % (i % 97))
        assert producer.flush(60) == 0


def table_version(path: Path) -> int:
    try:
        return DeltaTable(str(path)).version()
    except Exception:  # not created yet
        return -1


def all_landed(path: Path, ends: dict[int, int]) -> bool:
    try:
        table = DeltaTable(str(path))
    except Exception:
        return False
    return all(
        table.transaction_version(f"lake-test-{TOPIC}-{p}") == end - 1 for p, end in ends.items()
    )


@pytest.mark.slow
def test_sinks_killed_at_random_land_every_record_exactly_once(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    rng = random.Random(20251126)
    lake = tmp_path / "lake"
    table = lake / "clickstream_events"
    with hwt.connect(broker.bootstrap) as t:
        t.admin().create_topics([hwt.TopicSpec(TOPIC, PARTITIONS)])
    total = 0
    sinks = [SinkProcess(broker.bootstrap, lake, tmp_path, n) for n in range(2)]
    started = len(sinks)
    try:
        for _round in range(4):
            # Chunks of records, each committed by some sink; after a random one, kill -9 a
            # random sink (mid-batch or between commits) and start a new one (a rebalance).
            kill_after = rng.randrange(4)
            for chunk in range(4):
                before = table_version(table)
                produce(broker.bootstrap, total, total + 400)
                total += 400
                wait_until(
                    lambda b=before: table_version(table) > b, 90, f"a commit after {before}"
                )
                if chunk == kill_after:
                    sinks.pop(rng.randrange(len(sinks))).kill()
                    sinks.append(SinkProcess(broker.bootstrap, lake, tmp_path, started))
                    started += 1
        produce(broker.bootstrap, total, total + 500)
        total += 500
        with hwt.connect(broker.bootstrap) as t, t.consumer("probe") as probe:
            ends = {p: probe.watermarks(hwt.TopicPartition(TOPIC, p))[1] for p in range(PARTITIONS)}
        assert sum(ends.values()) == total
        wait_until(lambda: all_landed(table, ends), 120, "every partition's last offset landed")
        for sink in sinks:
            assert sink.stop() == 0, sink.log()
    finally:
        for sink in sinks:
            if sink.proc.poll() is None:
                sink.kill()
    data = DeltaTable(str(table)).to_pyarrow_dataset()  # noqa: F841  (read by DuckDB below)
    count, distinct, low, high = duckdb.sql(
        "SELECT count(*), count(DISTINCT event_id), min(_offset), max(_offset) FROM data"
    ).fetchall()[0]
    assert (count, distinct) == (total, total)
    ids = {r[0] for r in duckdb.sql("SELECT event_id FROM data").fetchall()}
    assert ids == {f"e-{i}" for i in range(total)}
    per_partition = duckdb.sql(
        "SELECT _partition, count(*), max(_offset) FROM data GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_partition == [(p, ends[p], ends[p] - 1) for p in range(PARTITIONS)]
    assert low == 0 and high == max(ends.values()) - 1
    assert started == 6
