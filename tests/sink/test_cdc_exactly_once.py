"""`headwater sink` processes landing a change topic, killed with -9 at random and restarted while
changes (with re-sent duplicates) keep coming: every change is one history version, the version
chains are whole, and the current state is each key's last change."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from deltalake import DeltaTable

import headwater.transport as hwt

from ..transport.support import wait_until
from .cdc_support import CURRENT, HISTORY, T0_MS, TOPIC, change

PARTITIONS = 2
KEYS = 40
GROUP = "cdc-kill"


class SinkProcess:
    def __init__(self, broker: str, lake: Path, log_dir: Path, n: int, topic: str) -> None:
        self.log_path = log_dir / f"sink-{n}.log"
        cmd = [sys.executable, "-m", "headwater", "sink", "--broker", broker, "--lake", str(lake),
               "--topics", topic, "--group", GROUP, "--max-rows", "150", "--max-age-s", "0.2",
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
            self.proc.wait(60)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Changes:
    """A stream of inserts, updates and deletes of KEYS keys, each change its own position."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[int, dict | None] = dict.fromkeys(range(KEYS))
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.expected: dict[tuple[int, int], str] = {}  # (id, pos) -> op
        self.n = 0

    def next(self) -> tuple[bytes | None, bytes]:
        self.n += 1
        pos, ts = self.n * 10, T0_MS + self.n * 1000
        k = self.rng.randrange(KEYS)
        before = self.rows[k]
        if before is None:
            after = {"id": k, "plan": f"p{self.n}"}
            record, op = change("c", None, after, pos, ts), "c"
            self.rows[k] = after
        elif self.rng.random() < 0.15:
            record, op = change("d", before, None, pos, ts), "d"
            self.rows[k] = None
        else:
            after = {"id": k, "plan": f"p{self.n}"}
            record, op = change("u", before, after, pos, ts), "u"
            self.rows[k] = after
        self.expected[(k, pos)] = op
        self.sent.append(record)
        return record

    def chunk(self, n: int) -> list[tuple[bytes | None, bytes]]:
        fresh = [self.next() for _ in range(n)]
        resent = self.rng.sample(self.sent, min(20, len(self.sent)))  # at-least-once readers
        return fresh + resent


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    with hwt.connect(bootstrap) as t, t.producer() as producer:
        for key, value in records:
            producer.produce(topic, value, key=key)
        assert producer.flush(60) == 0


def version(path: Path) -> int:
    try:
        return DeltaTable(str(path)).version()
    except Exception:  # not created yet
        return -1


def landed(lake: Path, topic: str, ends: dict[int, int]) -> bool:
    for name in (HISTORY, CURRENT):
        try:
            table = DeltaTable(str(lake / name))
        except Exception:
            return False
        for p, end in ends.items():
            if table.transaction_version(f"{GROUP}-{topic}-{p}") != end - 1:
                return False
    return True


@pytest.mark.slow
def test_cdc_sinks_killed_at_random_land_every_change_once(broker_url: str, tmp_path: Path) -> None:
    rng = random.Random(20261126)
    lake = tmp_path / "lake"
    # The tables' names come from the database and table: a source of its own keeps the topic
    # this test's on a Kafka cluster that other tests share.
    topic = TOPIC.replace("cdc.shop.", f"cdc.kill{uuid.uuid4().hex[:8]}.")
    with hwt.connect(broker_url) as t:
        t.admin().create_topics([hwt.TopicSpec(topic, PARTITIONS)])
    changes = Changes(rng)
    sinks = [SinkProcess(broker_url, lake, tmp_path, n, topic) for n in range(2)]
    started = len(sinks)
    try:
        for _round in range(3):
            kill_after = rng.randrange(3)
            for chunk in range(3):
                before = version(lake / HISTORY)
                produce(broker_url, topic, changes.chunk(200))
                wait_until(lambda b=before: version(lake / HISTORY) > b, 90, "a history commit")
                if chunk == kill_after:
                    sinks.pop(rng.randrange(len(sinks))).kill()
                    sinks.append(SinkProcess(broker_url, lake, tmp_path, started, topic))
                    started += 1
        produce(broker_url, topic, changes.chunk(100))
        with hwt.connect(broker_url) as t, t.consumer("probe") as probe:
            ends = {p: probe.watermarks(hwt.TopicPartition(topic, p))[1] for p in range(PARTITIONS)}
        assert sum(ends.values()) == len(changes.sent) + 20 * 10
        wait_until(lambda: landed(lake, topic, ends), 180, "every partition in both tables")
        for sink in sinks:
            assert sink.stop() == 0, sink.log()
    finally:
        for sink in sinks:
            if sink.proc.poll() is None:
                sink.kill()
    history = DeltaTable(str(lake / HISTORY)).to_pyarrow_table().to_pylist()
    got = {(r["id"], int(r["_position"].split(":")[1])): r["_op"] for r in history}
    assert len(history) == len(got) == len(changes.expected)  # no duplicate, none lost
    assert got == changes.expected
    by_key: dict[int, list[dict]] = {}
    for r in sorted(history, key=lambda r: r["_position"]):
        by_key.setdefault(r["id"], []).append(r)
    for versions in by_key.values():
        for this, nxt in zip(versions, [*versions[1:], None], strict=True):
            if this["_op"] == "d":
                assert this["valid_to"] == this["valid_from"]
            elif nxt is None:
                assert this["valid_to"] is None
            else:
                assert this["valid_to"] == nxt["valid_from"]
    current = DeltaTable(str(lake / CURRENT)).to_pyarrow_table().to_pylist()
    assert {r["id"]: r["plan"] for r in current} == {
        k: row["plan"] for k, row in changes.rows.items() if row is not None
    }
    assert started == 5
