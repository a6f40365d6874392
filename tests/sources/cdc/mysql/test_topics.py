"""`headwater cdc` creates each topic it writes (a table's changes, DDL, transaction markers)
before the first record to it, once, durably: not by the broker's auto-creation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import headwater.transport as hwt
from headwater.contracts.topics import cdc_schema, cdc_table, cdc_transaction
from tests.kit.kafka import KafkaCluster
from tests.kit.services import BrokerProcess
from tests.sources.cdc.conftest import MyDatabase
from tests.sources.cdc.support import count_at_least, read_changes, start_cdc

from ...durable_topics import assert_created_durably

READY = "binlog_started"


def test_changes_flow_on_a_broker_that_never_auto_creates_topics(
    my_db: MyDatabase, broker_factory: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    broker = broker_factory("--no-auto-create-topics")
    source = f"n{uuid.uuid4().hex[:6]}"
    my_db.execute("CREATE TABLE a (id int PRIMARY KEY)", "INSERT INTO a VALUES (1), (2)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", source, "--snapshot",
                    "--transactions", ready=READY)  # fmt: skip
    try:
        my_db.execute(
            "CREATE TABLE b (id int PRIMARY KEY)",
            *(f"INSERT INTO b VALUES ({i})" for i in range(3)),
            "INSERT INTO a VALUES (3)",
        )
        a = read_changes(broker.bootstrap, cdc_table(source, my_db.name, "a"), count_at_least(3))
        b = read_changes(broker.bootstrap, cdc_table(source, my_db.name, "b"), count_at_least(3))
        log = cdc.log_text()
    finally:
        cdc.stop()
    assert [c.key["id"] for c in a] == [1, 2, 3]
    assert [c.key["id"] for c in b] == [0, 1, 2]
    created = [line for line in log.splitlines() if "topics_created" in line]
    for topic in (cdc_table(source, my_db.name, "a"), cdc_table(source, my_db.name, "b")):
        assert sum(topic in line for line in created) == 1, created  # once, not per record


@pytest.mark.kafka
def test_cdc_creates_its_topics_durably_on_the_cluster(
    my_db: MyDatabase, kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    source = f"k{uuid.uuid4().hex[:6]}"
    my_db.execute("CREATE TABLE a (id int PRIMARY KEY)", "INSERT INTO a VALUES (1)")
    cdc = start_cdc(tmp_path, my_db.url, kafka_cluster.url, "--name", source, "--snapshot",
                    "--transactions", ready=READY)  # fmt: skip
    try:
        my_db.execute("CREATE TABLE b (id int PRIMARY KEY)", "INSERT INTO b VALUES (2)")
        read_changes(kafka_cluster.url, cdc_table(source, my_db.name, "b"), count_at_least(1))
    finally:
        cdc.stop()
    for topic in (
        cdc_table(source, my_db.name, "a"),  # first written by the snapshot
        cdc_table(source, my_db.name, "b"),  # by the binlog
        cdc_schema(source),
        cdc_transaction(source),
    ):
        assert_created_durably(kafka_cluster, topic)


def test_a_topic_that_cannot_be_created_ends_the_run_with_the_reason(
    my_db: MyDatabase, broker: BrokerProcess, tmp_path: Path
) -> None:
    source = f"x{uuid.uuid4().hex[:6]}"
    topic = cdc_table(source, my_db.name, "t")
    with hwt.connect(broker.bootstrap) as conn:  # Kafka refuses names that differ by '.' / '_'
        conn.admin().create_topics([hwt.TopicSpec(topic.replace(".", "_"))])
    my_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, my_db.url, broker.bootstrap, "--name", source, ready=READY)
    try:
        my_db.execute("INSERT INTO t VALUES (1)")
        code = cdc.wait(30)
    finally:
        cdc.stop()
    log = cdc.log_text()
    assert code == 2, log  # a CdcError: `error:` and `fix:`, exit 2
    assert f"cannot create topic {topic}" in log and "fix:" in log, log
    assert "Traceback" not in log, log
