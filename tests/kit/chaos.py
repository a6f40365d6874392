"""Broker-loss tests' kit: load that keeps flowing while brokers fail, the cluster's state
read from Kafka itself, and what landed in the lake.

Loads are threads that record every outcome: `ClickLoad` posts batches of events to a
collector and keeps each answer (the collector's promise: 200 stored, 202 pending and stored
exactly once, 503 nothing stored), `ChangeLoad` commits inserts, updates and deletes to a
PostgreSQL table and keeps each committed change. Their pace (`interval_s` between two requests
or transactions) is a rate limit, not synchronisation. An error inside a load thread (the
collector gone, an answer outside the contract) is re-raised by `stop()`.

Cluster probes never take "no answer" for an answer: `listed_brokers` is None when no broker
answered (a paused leader can time a metadata request out), so a wait for "broker 2 is gone"
cannot be satisfied by an error. `whole` is the state a broker-loss test may strike again in:
every node listed and every partition's in-sync replicas equal to its replicas.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb
import httpx
import psycopg2
from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from tests.kit.kafka import KafkaCluster, KafkaNode
from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess, headwater_process
from tests.kit.waiting import wait_until

K = TypeVar("K", bound=Hashable)

WRITE_KEY = "testkey"
#: What a collector may answer a well-formed batch while brokers fail (module docstring).
CONTRACT_ANSWERS = frozenset({200, 202, 503})

# -- the processes under test ----------------------------------------------------------------


def start_collector(tmp: Path, broker: str) -> tuple[ManagedProcess, str]:
    """`headwater collect` on a free port; a 3 s answer wait (then 202, pending)."""
    port = free_port()
    process = headwater_process(
        tmp, "collect", "--listen", f"127.0.0.1:{port}", "--broker", broker,
        "--write-key", f"{WRITE_KEY}=web-test", "--ack-timeout-s", "3", name="collector",
    )  # fmt: skip
    process.start(ready_port=("127.0.0.1", port), ready_line="collector_started")
    return process, f"http://127.0.0.1:{port}"


def start_sink(tmp: Path, broker: str, lake: Path, group: str, *topics: str) -> ManagedProcess:
    """`headwater sink` landing `topics` in `lake`, committing often (small batches)."""
    topic_args = [arg for topic in topics for arg in ("--topic", topic)]
    process = headwater_process(
        tmp, "sink", "--broker", broker, "--lake", str(lake), "--group", group, *topic_args,
        "--max-rows", "2000", "--max-age-s", "0.5", "--session-timeout-ms", "6000", name="sink",
    )  # fmt: skip
    return process.start(ready_line="sink_started")


# -- load ------------------------------------------------------------------------------------


class _LoadThread:
    """A daemon thread running `step` every `interval_s` until `stop()`; its error re-raised."""

    def __init__(self, name: str, interval_s: float) -> None:
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> _LoadThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(120)
        if self._error is not None:
            raise AssertionError(f"{self._thread.name} failed: {self._error!r}") from self._error
        assert not self._thread.is_alive(), f"{self._thread.name} did not stop"

    def abandon(self) -> None:
        """Stop without judging (a test's teardown) and release what the load holds."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(120)
        self.release()

    def release(self) -> None:
        """Release what the test's thread may still have used after `stop()`."""

    def check(self) -> bool:
        """True, or raise now if the thread failed (a wait on the load would wait in vain)."""
        if self._error is not None:
            raise AssertionError(f"{self._thread.name} failed: {self._error!r}") from self._error
        return True

    def step(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what `step` used (runs on the load thread as it ends)."""

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.step()
                self._stopping.wait(self._interval_s)  # the load's pace
        except BaseException as exc:
            self._error = exc
        finally:
            self.close()


@dataclass(frozen=True, slots=True)
class Answer:
    batch: int
    status: int
    sent_at: float  # time.monotonic() when the request went out
    answered_at: float


class ClickLoad(_LoadThread):
    """Posts batches of `per_batch` events (ids `<tag>-<batch>-<i>`) to a collector.

    `stored`: ids of batches answered 200 or 202 (the collector promised them); `refused`:
    batches answered 503 and not yet sent again (`resend_refused`)."""

    def __init__(self, url: str, tag: str, per_batch: int = 20, interval_s: float = 0.05) -> None:
        super().__init__(f"click-load-{tag}", interval_s)
        self.tag = tag
        self.per_batch = per_batch
        self.answers: list[Answer] = []
        self.stored: set[str] = set()
        self.refused: list[int] = []
        self._next = 0
        self._client = httpx.Client(base_url=url, auth=(WRITE_KEY, ""), timeout=60)

    def ids(self, batch: int) -> list[str]:
        return [f"{self.tag}-{batch}-{i}" for i in range(self.per_batch)]

    def step(self) -> None:
        batch, self._next = self._next, self._next + 1
        self.post(batch)

    def post(self, batch: int) -> int:
        events = [
            {"type": "track", "event": "load", "anonymousId": f"a-{self.tag}", "messageId": i}
            for i in self.ids(batch)
        ]
        sent_at = time.monotonic()
        answer = self._client.post("/v1/batch", json={"batch": events})
        if answer.status_code not in CONTRACT_ANSWERS:
            raise AssertionError(f"batch {batch}: {answer.status_code} {answer.text}")
        self.answers.append(Answer(batch, answer.status_code, sent_at, time.monotonic()))
        if answer.status_code == 503:
            self.refused.append(batch)
        else:
            self.stored.update(self.ids(batch))
        return answer.status_code

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        """How the requests sent in [since, until) (monotonic times) were answered."""
        return Counter(a.status for a in list(self.answers) if since <= a.sent_at < until)

    def resend_refused(self, deadline_s: float = 60.0) -> None:
        """Send each 503'd batch again, as a client would, until the collector takes it (call
        after `stop()`, from the test's thread)."""

        def resend() -> bool:
            while self.refused:
                batch = self.refused.pop(0)
                if self.post(batch) == 503:
                    return False  # refused again (and queued again): later
            return True

        wait_until(resend, deadline_s, f"the collector to take {len(self.refused)} 503'd batches",
                   interval_s=0.2)  # fmt: skip

    def collector_health(self) -> dict[str, int]:
        """The collector's /healthz counters (`unwritable`: 1 while it refuses new requests
        because the cluster cannot take its writes), on a client of its own."""
        answer = httpx.get(self._client.base_url.join("/healthz"), timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def release(self) -> None:
        """Close the HTTP client (after `stop()` and `resend_refused`, which still use it)."""
        self._client.close()

    def summary(self) -> dict[int, int]:
        return dict(sorted(self.statuses().items()))


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change of `ChangeLoad`'s table: the row's id, op c/u/d and its value `v`
    (unique per insert or update; a delete's is the deleted row's)."""

    id: int
    op: str
    v: int


class ChangeLoad(_LoadThread):
    """Commits transactions of 1 to 3 inserts, updates and deletes to `table` (id int primary key,
    v bigint) through `dsn`; `committed` lists the changes of committed transactions in order."""

    def __init__(self, dsn: str, table: str, interval_s: float = 0.02, seed: int = 13) -> None:
        super().__init__(f"change-load-{table}", interval_s)
        self.table = table
        self.committed: list[Change] = []
        self.rows: dict[int, int] = {}  # id -> v, as committed
        self._random = random.Random(seed)
        self._next_id = 1
        self._next_v = 1
        self._dsn = dsn
        self._conn: psycopg2.extensions.connection | None = None

    def step(self) -> None:
        if self._conn is None:
            self._conn = psycopg2.connect(self._dsn)
        rows = dict(self.rows)
        changes: list[Change] = []
        with self._conn.cursor() as cur:
            for _ in range(self._random.randint(1, 3)):
                changes.append(self._one(cur, rows))
        self._conn.commit()
        self.rows = rows
        self.committed.extend(changes)

    def _one(self, cur: psycopg2.extensions.cursor, rows: dict[int, int]) -> Change:
        roll = self._random.random()
        if len(rows) < 5 or roll < 0.5:
            row_id, v = self._next_id, self._next_v
            self._next_id, self._next_v = row_id + 1, v + 1
            cur.execute(f"INSERT INTO {self.table} (id, v) VALUES (%s, %s)", (row_id, v))
            rows[row_id] = v
            return Change(row_id, "c", v)
        row_id = self._random.choice(sorted(rows))
        if roll < 0.8:
            v, self._next_v = self._next_v, self._next_v + 1
            cur.execute(f"UPDATE {self.table} SET v = %s WHERE id = %s", (v, row_id))
            rows[row_id] = v
            return Change(row_id, "u", v)
        cur.execute(f"DELETE FROM {self.table} WHERE id = %s", (row_id,))
        return Change(row_id, "d", rows.pop(row_id))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


# -- the lake --------------------------------------------------------------------------------


def query_table(table: Path, sql: str, *params: object) -> list[tuple[object, ...]] | None:
    """Rows of `sql` over the table's latest version as `data`; None if not created yet."""
    try:
        data = DeltaTable(str(table)).to_pyarrow_dataset()
    except TableNotFoundError:
        return None
    with duckdb.connect() as db:
        db.register("data", data)
        return db.execute(sql, list(params)).fetchall()


def landed_events(table: Path, tag: str) -> Counter[str]:
    """How often each event id starting with `<tag>-` is in the events table."""
    rows = query_table(table, "SELECT event_id FROM data WHERE starts_with(event_id, ?)", f"{tag}-")
    return Counter(str(r[0]) for r in rows or [])


def landed_changes(history: Path) -> Counter[Change]:
    """How often each change (id, op, v) is a version in a CDC history table."""
    rows = query_table(history, "SELECT id, _op, v FROM data")
    return Counter(Change(int(i), str(op), int(v)) for i, op, v in rows or [])  # type: ignore[call-overload]


def repeated_positions(history: Path) -> list[object]:
    """Source positions that more than one version of the history table carries."""
    rows = query_table(history, "SELECT _position FROM data GROUP BY 1 HAVING count(*) > 1")
    return [r[0] for r in rows or []]


def current_rows(table: Path) -> dict[int, int]:
    """id -> v of a CDC current-state table."""
    return {int(i): int(v) for i, v in query_table(table, "SELECT id, v FROM data") or []}  # type: ignore[call-overload]


def wait_landed(
    what: str, landed: Callable[[], Counter[K]], expected: Collection[K], deadline_s: float
) -> Counter[K]:
    """Until every one of `expected` is in `landed()`; returns the last reading."""
    last: Counter[K] = Counter()

    def complete() -> bool:
        nonlocal last
        last = landed()
        return all(last[x] > 0 for x in expected)

    try:
        wait_until(complete, deadline_s, f"the {len(expected)} {what} in the lake", interval_s=1)
    except AssertionError as exc:
        missing = [x for x in expected if last[x] == 0]
        raise AssertionError(f"{exc}: {len(missing)} missing, e.g. {missing[:5]}") from None
    return last


# -- the cluster, as Kafka reports it --------------------------------------------------------


def listed_brokers(cluster: KafkaCluster) -> set[int] | None:
    """The broker ids the cluster's metadata lists now; None when no broker answered."""
    try:
        return set(cluster.admin().list_topics(timeout=5).brokers)
    except KafkaException:
        return None


def wait_whole(cluster: KafkaCluster, deadline_s: float = 120.0) -> None:
    """Until every node is listed and every partition fully in sync: safe to strike again."""
    everyone = {node.node_id for node in cluster.nodes}
    wait_until(
        lambda: listed_brokers(cluster) == everyone and cluster.fully_in_sync(),
        deadline_s,
        "every broker listed and every partition's replicas in sync",
        interval_s=0.2,
    )


def wait_unlisted(cluster: KafkaCluster, gone: Collection[KafkaNode], deadline_s: float) -> None:
    """Until the metadata lists exactly the nodes not in `gone` (the cluster noticed)."""
    rest = {node.node_id for node in cluster.nodes} - {node.node_id for node in gone}
    names = ", ".join(str(node.node_id) for node in gone)
    wait_until(lambda: listed_brokers(cluster) == rest, deadline_s,
               f"the metadata to stop listing broker {names}", interval_s=0.2)  # fmt: skip


def wait_led_elsewhere(
    cluster: KafkaCluster, topic: str, node: KafkaNode, deadline_s: float = 60.0
) -> KafkaNode:
    """Until another node than `node` leads `topic`[0] (the fail-over happened); that node."""
    moved: list[KafkaNode] = []

    def elsewhere() -> bool:
        leader = cluster.leader(topic)
        moved[:] = [leader]
        return leader is not node

    wait_until(elsewhere, deadline_s, f"a leader of {topic}[0] other than node {node.node_id}",
               interval_s=0.2)  # fmt: skip
    return moved[0]


def broker_setting(cluster: KafkaCluster, name: str) -> str | None:
    """A broker's configuration value as Kafka reports it (DescribeConfigs of the first live
    broker); None when the broker does not know the setting."""
    node = next(n for n in cluster.nodes if n.alive())
    resource = ConfigResource(ConfigResource.Type.BROKER, str(node.node_id))
    configs = cluster.admin().describe_configs([resource])[resource].result(timeout=10)
    entry = configs.get(name)
    return None if entry is None else entry.value


def registers_in_zookeeper(cluster: KafkaCluster) -> bool:
    """Whether the brokers keep their registration in ZooKeeper (not in a KRaft quorum)."""
    return bool(broker_setting(cluster, "zookeeper.connect"))


def broker_session_timeout_s(cluster: KafkaCluster) -> float:
    """How long a silent broker stays registered: ZooKeeper's session timeout in ZooKeeper mode,
    `broker.session.timeout.ms` in KRaft."""
    name = (
        "zookeeper.session.timeout.ms"
        if registers_in_zookeeper(cluster)
        else "broker.session.timeout.ms"
    )
    value = broker_setting(cluster, name)
    assert value is not None, f"the brokers do not report {name}"
    return int(value) / 1000


@dataclass
class Stopwatch:
    """Named durations of a test's phases, printed with -s (how the faults were felt)."""

    laps: dict[str, list[float]] = field(default_factory=dict)

    def lap(self, name: str, started: float) -> None:
        self.laps.setdefault(name, []).append(time.monotonic() - started)

    def summary(self) -> str:
        parts = []
        for name, values in self.laps.items():
            ordered = sorted(values)
            parts.append(
                f"{name}: n={len(values)} median={ordered[len(values) // 2]:.1f}s "
                f"max={ordered[-1]:.1f}s"
            )
        return "; ".join(parts)
