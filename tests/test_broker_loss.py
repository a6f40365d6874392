"""Broker loss on a real Kafka cluster while headwater's components run under load.

Each test runs `headwater collect` and `headwater sink` (the first also `headwater cdc` on a
private PostgreSQL) with `--broker kafka://…`, keeps traffic flowing from load threads
(tests/kit/chaos.py), strikes the cluster, and then reads the lake: every event the collector
acknowledged (200) or took as pending (202) is there exactly once, a 503'd one is absent until
its client sends it again and then there once, and every committed database change is a version
of the CDC history table exactly once. Strikes: the leader of the busiest partitions killed
twenty times; one zone's broker stopped for a minute; a broker paused past its session timeout;
two brokers of three down.

A fail-over is waited for as Kafka reports it (another leader, the broker unlisted, every
replica back in sync), never for a fixed time; only the zone outage lasts a set minute, the
scenario's length. Round and fail-over times are printed with -s.

With two brokers of three down the partitions cannot take acks=all writes (in-sync replicas
under min.insync.replicas=2): once the collector noticed (its /healthz `unwritable`), every new
request is answered 503 with nothing queued until a broker is back, then 200 again.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from headwater import transport
from headwater.contracts.topics import CLICKSTREAM_EVENTS
from headwater.lake.tables import cdc_names
from tests.kit.chaos import (
    ChangeLoad,
    ClickLoad,
    Stopwatch,
    broker_session_timeout_s,
    current_rows,
    landed_changes,
    landed_events,
    registers_in_zookeeper,
    repeated_positions,
    start_collector,
    start_sink,
    wait_landed,
    wait_led_elsewhere,
    wait_unlisted,
    wait_whole,
)
from tests.kit.databases import PostgresServer
from tests.kit.kafka import KafkaCluster
from tests.kit.processes import ManagedProcess
from tests.kit.waiting import wait_until
from tests.sources.cdc.databases import CDC_PASSWORD, CDC_USER
from tests.sources.cdc.support import start_cdc

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

#: The issue asks for twenty kills in a row; a quicker local loop may ask for fewer.
KILLS = int(os.environ.get("HEADWATER_BROKER_KILLS", "20"))
ZONE_DOWN_S = 60.0  # "one whole availability zone stopped for a minute"
LANDING_S = 180.0  # pending events wait in the producer for a broker; then the sink commits

PROBE = "chaos.probe"  # a producer's own topic, beside the collector's

L = TypeVar("L", ClickLoad, ChangeLoad)


@dataclass
class Run:
    """What a test started: stopped at its end, whatever happened."""

    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    loads: list[ClickLoad | ChangeLoad] = field(default_factory=list)

    def load(self, load: L) -> L:
        self.loads.append(load)
        load.start()
        return load

    def stop_cleanly(self, *names: str) -> None:
        """SIGTERM to each (each delivers or commits what it holds); each must exit with 0."""
        codes = {name: self.processes.pop(name).stop() for name in names}
        assert set(codes.values()) == {0}, f"exit codes: {codes}"


@pytest.fixture
def run(kafka_cluster: KafkaCluster) -> Iterator[Run]:
    started = Run()
    yield started
    for load in started.loads:
        load.abandon()
    for process in started.processes.values():
        process.stop()


def start_pipeline(cluster: KafkaCluster, tmp: Path, run: Run, *extra_topics: str) -> ClickLoad:
    """The collector and a sink of the events (and `extra_topics`; all created first, so the
    sink's subscription finds them), and a load posting events to the collector."""
    tag = f"b{uuid.uuid4().hex[:8]}"
    topics = [CLICKSTREAM_EVENTS, *extra_topics]
    with transport.connect(cluster.url) as conn, conn.admin() as admin:
        admin.create_topics([transport.TopicSpec(t) for t in topics], exist_ok=True)
    run.processes["collector"], url = start_collector(tmp, cluster.url)
    run.processes["sink"] = start_sink(tmp, cluster.url, tmp / "lake", f"lake-{tag}", *topics)
    return run.load(ClickLoad(url, tag))


def wait_for_answer(clicks: ClickLoad, status: int, since: float, deadline_s: float) -> None:
    """Until a request sent after `since` (monotonic) was answered `status`."""
    wait_until(lambda: clicks.check() and clicks.statuses(since)[status] > 0, deadline_s,
               f"a request sent after the fault answered {status}", interval_s=0.1)  # fmt: skip


def hold(clicks: ClickLoad, seconds: float) -> None:
    """Keep the current fault for `seconds` (the scenario's length) while the load flows."""
    end = time.monotonic() + seconds
    wait_until(lambda: clicks.check() and time.monotonic() >= end, seconds + 5,
               f"the {seconds:.0f} s of the outage", interval_s=0.5)  # fmt: skip


def check_events_landed_once(clicks: ClickLoad, table: Path) -> Counter[str]:
    """The collector's promise, read from the lake: every 200/202'd event is there and no 503'd
    one; then the 503'd batches are sent again, and every event is there exactly once."""
    refused = {i for batch in clicks.refused for i in clicks.ids(batch)}
    landed = wait_landed("acknowledged events", lambda: landed_events(table, clicks.tag),
                         clicks.stored, LANDING_S)  # fmt: skip
    assert sorted(refused & set(landed))[:5] == [], "503'd events were stored"
    clicks.resend_refused()
    landed = wait_landed("acknowledged events", lambda: landed_events(table, clicks.tag),
                         clicks.stored, LANDING_S)  # fmt: skip
    assert set(landed) == clicks.stored
    assert [i for i, n in landed.items() if n > 1] == []
    return landed


def test_acknowledged_events_and_committed_changes_land_once_through_twenty_leader_kills(
    kafka_cluster: KafkaCluster, tmp_path: Path, run: Run
) -> None:
    cluster = kafka_cluster
    pg = PostgresServer().start()
    try:
        pg.execute(f"CREATE ROLE {CDC_USER} LOGIN REPLICATION PASSWORD '{CDC_PASSWORD}'",
                   f"CREATE DATABASE app OWNER {CDC_USER}", db="postgres")  # fmt: skip
        dsn = pg.dsn(CDC_USER, CDC_PASSWORD, "app")
        pg.execute("CREATE TABLE items (id int PRIMARY KEY, v bigint NOT NULL)",
                   "ALTER TABLE items REPLICA IDENTITY FULL", dsn=dsn)  # fmt: skip
        source = f"s{uuid.uuid4().hex[:6]}"
        changes_topic = f"cdc.{source}.public.items"
        clicks = start_pipeline(cluster, tmp_path, run, changes_topic)
        run.processes["cdc"] = start_cdc(tmp_path, dsn, cluster.url, "--name", source,
                                         ready="replication_started")  # fmt: skip
        changes = run.load(ChangeLoad(dsn, "items"))
        # The busiest partitions: the events' (hundreds a second) and the changes' (~100/s).
        targets = [CLICKSTREAM_EVENTS, changes_topic]
        zookeeper = registers_in_zookeeper(cluster)
        watch = Stopwatch()
        for strike in range(KILLS):
            topic = targets[strike % len(targets)]
            victim = cluster.leader(topic)
            struck = time.monotonic()
            victim.kill()
            if not zookeeper:  # a KRaft node waits to register until its old session ends
                victim.start()
            wait_led_elsewhere(cluster, topic, victim)
            watch.lap("fail-over", struck)
            if zookeeper:  # it may register again once its znode went with its session
                wait_unlisted(cluster, [victim], deadline_s=60)
                victim.start()
            wait_whole(cluster)  # listed again, every replica in sync: strike again
            watch.lap("round", struck)
            clicks.check()
            changes.check()
        clicks.stop()
        changes.stop()
        lake = tmp_path / "lake"
        landed = check_events_landed_once(clicks, lake / "clickstream_events")
        names = cdc_names(changes_topic)
        assert names is not None
        committed = Counter(changes.committed)
        versions = wait_landed("committed changes", lambda: landed_changes(lake / names.history),
                               committed, LANDING_S)  # fmt: skip
        assert versions == committed  # each change once: none lost, none twice
        assert repeated_positions(lake / names.history) == []
        wait_until(lambda: current_rows(lake / names.current) == changes.rows, 60,
                   "the current-state table to match the database")  # fmt: skip
        run.stop_cleanly("sink", "collector", "cdc")
    finally:
        pg.remove()
    print(f"\n{KILLS} kills: {watch.summary()}; answers {clicks.summary()}; "
          f"{len(landed)} events, {len(committed)} changes")  # fmt: skip


def test_acknowledgements_go_on_while_one_zone_is_down_for_a_minute(
    kafka_cluster: KafkaCluster, tmp_path: Path, run: Run
) -> None:
    clicks = start_pipeline(kafka_cluster, tmp_path, run)
    wait_for_answer(clicks, 200, 0.0, 60)
    zone = kafka_cluster.leader(CLICKSTREAM_EVENTS)
    zone.stop()  # SIGTERM: the zone's broker goes (a controlled shutdown)
    down = time.monotonic()
    hold(clicks, ZONE_DOWN_S)
    up = time.monotonic()
    zone.start()
    wait_whole(kafka_cluster)
    clicks.stop()
    during = clicks.statuses(down, up)
    assert during[200] > 0, f"no acknowledgement while the zone was down: {dict(during)}"
    last = clicks.statuses(up - 10, up)
    assert last[200] > 0, f"acknowledgements stopped before the zone came back: {dict(last)}"
    landed = check_events_landed_once(clicks, tmp_path / "lake" / "clickstream_events")
    run.stop_cleanly("sink", "collector")
    print(f"\nzone {zone.rack} down: answers {dict(during)}; {len(landed)} events")


def test_a_broker_paused_past_its_session_timeout_loses_and_doubles_nothing(
    kafka_cluster: KafkaCluster, tmp_path: Path, run: Run
) -> None:
    session_s = broker_session_timeout_s(kafka_cluster)
    clicks = start_pipeline(kafka_cluster, tmp_path, run)
    wait_for_answer(clicks, 200, 0.0, 60)
    victim = kafka_cluster.leader(CLICKSTREAM_EVENTS)
    victim.pause()  # SIGSTOP: connections open, nothing answered, no heartbeat
    paused = time.monotonic()
    wait_unlisted(kafka_cluster, [victim], deadline_s=3 * session_s + 30)  # its session ended
    noticed = time.monotonic()
    wait_led_elsewhere(kafka_cluster, CLICKSTREAM_EVENTS, victim)
    victim.resume()  # it wakes up believing it leads, with requests from before the pause
    resumed = time.monotonic()
    wait_whole(kafka_cluster)  # it rejoins as a follower and catches up
    wait_for_answer(clicks, 200, resumed, 90)
    clicks.stop()
    landed = check_events_landed_once(clicks, tmp_path / "lake" / "clickstream_events")
    run.stop_cleanly("sink", "collector")
    print(f"\npaused node {victim.node_id} unlisted after {noticed - paused:.1f} s (session "
          f"{session_s:.0f} s); answers {clicks.summary()}; {len(landed)} events")  # fmt: skip


def test_with_two_brokers_down_nothing_is_acknowledged_and_flow_resumes_with_one_back(
    kafka_cluster: KafkaCluster, tmp_path: Path, run: Run
) -> None:
    with transport.connect(kafka_cluster.url) as conn, conn.admin() as admin:
        admin.create_topics([transport.TopicSpec(PROBE)], exist_ok=True)
    clicks = start_pipeline(kafka_cluster, tmp_path, run)
    wait_for_answer(clicks, 200, 0.0, 60)
    first = kafka_cluster.leader(CLICKSTREAM_EVENTS)
    second = next(n for n in kafka_cluster.nodes if n is not first)
    first.kill()
    second.kill()
    down = time.monotonic()
    # The cluster shrinks the in-sync replicas under min.insync.replicas (or leaves a partition
    # without a leader); the collector notices at its next overdue acknowledgement.
    wait_until(lambda: clicks.check() and clicks.collector_health()["unwritable"] == 1, 90,
               "the collector to find its topic unwritable", interval_s=0.2)  # fmt: skip
    noticed = time.monotonic()
    assert producer_error(kafka_cluster) is not None, "a record was stored with two brokers down"
    wait_for_answer(clicks, 503, noticed, 30)
    if registers_in_zookeeper(kafka_cluster):  # their znodes must go before they come back
        wait_unlisted(kafka_cluster, [first, second], deadline_s=60)
    back = time.monotonic()  # from here on, answers may be acknowledgements again
    first.start()
    wait_for_answer(clicks, 200, back, 120)  # flow resumes with two brokers of three
    resumed = max(a.sent_at for a in list(clicks.answers) if a.status == 200)
    wait_until(lambda: clicks.check() and sum(clicks.statuses(resumed).values()) >= 20, 60,
               "20 requests after the first acknowledgement", interval_s=0.2)  # fmt: skip
    clicks.stop()
    during = clicks.statuses(down, back)
    assert during[200] == 0, f"acknowledged with two brokers down: {dict(during)}"
    refused = clicks.statuses(noticed, back)
    assert set(refused) == {503}, f"queued after the collector noticed: {dict(refused)}"
    after = clicks.statuses(resumed)
    assert set(after) == {200}, f"answers once flow resumed: {dict(after)}"
    landed = check_events_landed_once(clicks, tmp_path / "lake" / "clickstream_events")
    run.stop_cleanly("sink", "collector")
    print(f"\ntwo down: noticed after {noticed - down:.1f} s; answers {dict(during)}; "
          f"refused while noticed {dict(refused)}; after: {dict(clicks.statuses(back))}; "
          f"{len(landed)} events")  # fmt: skip


def producer_error(cluster: KafkaCluster) -> transport.DeliveryError | None:
    """The error of one record produced now with a 5 s delivery timeout; None if stored."""
    outcomes: list[transport.Delivery] = []
    options = transport.ProducerOptions(linger_ms=0, message_timeout_ms=5000)
    with transport.connect(cluster.url) as conn, conn.producer(options) as producer:
        producer.produce(PROBE, b"probe", on_delivery=outcomes.append)
        producer.flush(30)
    assert len(outcomes) == 1, "no outcome for the record in 30 s"
    return outcomes[0].error
