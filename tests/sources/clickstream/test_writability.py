"""The verdict behind the collector's "cannot take acks=all writes" 503s, from partition states
as Kafka reports them and the brokers that answer. The whole path (two brokers of three down,
then one back) runs on both Kafka clusters in tests/test_broker_loss.py: the embedded broker,
one node, is never in that state while it answers."""

from __future__ import annotations

import headwater.transport as hwt
from headwater.sources.clickstream.writability import unwritable_reason

EVENTS = "clickstream.events"
P = hwt.PartitionReplicas
EVERYONE = {1, 2, 3}


def test_a_live_leader_and_enough_live_in_sync_replicas_is_writable() -> None:
    partitions = {EVENTS: (P(0, 1, (1, 2, 3), (1, 2)), P(1, 2, (1, 2, 3), (1, 2, 3)))}
    assert unwritable_reason(partitions, {EVENTS: 2}, EVERYONE) is None
    assert unwritable_reason(partitions, {EVENTS: 2}, {1, 2}) is None  # broker 3 down: fine


def test_fewer_in_sync_replicas_than_the_topic_asks_is_unwritable() -> None:
    partitions = {EVENTS: (P(0, 1, (1, 2, 3), (1, 2)), P(1, 3, (1, 2, 3), (3,)))}
    assert unwritable_reason(partitions, {EVENTS: 2}, EVERYONE) == (
        f"{EVENTS}[1] has 1 in-sync replica(s) answering (3 of 1,2,3), under its "
        "min.insync.replicas=2: the cluster refuses acks=all writes"
    )


def test_in_sync_replicas_that_do_not_answer_do_not_count() -> None:
    # A lost KRaft quorum: the metadata still lists every replica in sync.
    partitions = {EVENTS: (P(0, 3, (1, 2, 3), (1, 2, 3)),)}
    reason = unwritable_reason(partitions, {EVENTS: 2}, {3})
    assert reason is not None and reason.startswith(f"{EVENTS}[0] has 1 in-sync replica(s)")


def test_a_leader_that_does_not_answer_is_unwritable() -> None:
    partitions = {EVENTS: (P(0, 1, (1, 2, 3), (1, 2, 3)),)}
    reason = unwritable_reason(partitions, {EVENTS: 2}, {2, 3})
    assert reason == f"{EVENTS}[0]: its leader, broker 1, does not answer"


def test_a_partition_without_a_leader_is_unwritable_whatever_the_min_isr() -> None:
    partitions = {EVENTS: (P(0, None, (1, 2, 3), ()),)}
    reason = unwritable_reason(partitions, {}, EVERYONE)
    assert reason == f"{EVENTS}[0] has no leader (replicas 1,2,3 out of service)"


def test_min_isr_is_capped_at_the_replicas_as_kafka_caps_it() -> None:
    # One replica (the embedded broker, a dev topic) with min.insync.replicas=2 is writable.
    partitions = {EVENTS: (P(0, 1, (1,), (1,)),)}
    assert unwritable_reason(partitions, {EVENTS: 2}, {1}) is None
