"""OffsetCommit and OffsetFetch: committed offsets (with their metadata, round-tripped exactly).

As Kafka does, a commit for a topic or partition that does not exist is answered
UNKNOWN_TOPIC_OR_PARTITION and not stored, while the request's other partitions are committed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from headwater.broker.protocol.codec import Request
from headwater.broker.state import BrokerState

UNKNOWN_TOPIC_OR_PARTITION = 3


def handle_offset_commit(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    offsets = [
        (
            t.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.committed_metadata,
        )
        for t in b.topics
        for p in t.partitions
    ]
    known = [o for o in offsets if state.logs.get(o[0], o[1]) is not None]
    results = []
    if known:
        results = state.groups.commit_offsets(
            b.group_id,
            b.generation_id_or_member_epoch,
            b.member_id,
            getattr(b, "group_instance_id", None),
            known,
        )
    codes = {(topic, partition): code for topic, partition, code in results}
    by_topic: dict[str, list[dict[str, int]]] = defaultdict(list)
    for topic, partition, *_ in offsets:
        code = codes.get((topic, partition), UNKNOWN_TOPIC_OR_PARTITION)
        by_topic[topic].append({"partition_index": partition, "error_code": code})
    return {
        "throttle_time_ms": 0,
        "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()],
    }


def handle_offset_fetch(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    wanted = None
    if b.topics is not None:
        wanted = [(t.name, p) for t in b.topics for p in t.partition_indexes]
    error, rows = state.groups.fetch_offsets(b.group_id, wanted)
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, partition, offset, epoch, metadata, code in rows:
        by_topic[topic].append(
            {
                "partition_index": partition,
                "committed_offset": offset,
                "committed_leader_epoch": epoch,
                "metadata": metadata,
                "error_code": code,
            }
        )
    return {
        "throttle_time_ms": 0,
        "error_code": error,
        "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()],
    }
