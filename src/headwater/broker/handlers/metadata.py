"""Metadata: one broker (this one) leads every partition.

v0: an empty topic list means all topics; v1+: null means all, empty means none. Unknown topics
are auto-created when both the broker config and the request (v4+) allow it.
"""

from __future__ import annotations

from typing import Any

from headwater.broker.log import TopicInfo
from headwater.broker.log.errors import InvalidTopicError, LogError
from headwater.broker.protocol.codec import Request
from headwater.broker.state import BrokerState

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC = 17
AUTHORIZED_OPERATIONS_OMITTED = -(2**31)


def topic_metadata(node_id: int, topic: TopicInfo) -> dict[str, Any]:
    return {
        "error_code": 0,
        "name": topic.name,
        "topic_id": topic.topic_id,
        "is_internal": False,
        "partitions": [
            {
                "error_code": 0,
                "partition_index": index,
                "leader_id": node_id,
                "leader_epoch": 0,
                "replica_nodes": [node_id],
                "isr_nodes": [node_id],
                "offline_replicas": [],
            }
            for index in range(len(topic.partitions))
        ],
        "topic_authorized_operations": AUTHORIZED_OPERATIONS_OMITTED,
    }


def _missing_topic(name: str, error: int) -> dict[str, Any]:
    return {
        "error_code": error,
        "name": name,
        "topic_id": None,
        "is_internal": False,
        "partitions": [],
        "topic_authorized_operations": AUTHORIZED_OPERATIONS_OMITTED,
    }


def handle_metadata(state: BrokerState, request: Request) -> dict[str, Any]:
    body = request.body
    config = state.config
    requested = body.topics
    if requested is not None and request.api_version == 0 and len(requested) == 0:
        requested = None
    allow_auto = getattr(body, "allow_auto_topic_creation", True)
    topics: list[dict[str, Any]] = []
    if requested is None:
        topics = [topic_metadata(config.node_id, t) for t in state.logs.topics.values()]
    else:
        for entry in requested:
            name = entry.name
            if name is None:
                topics.append(_missing_topic("", UNKNOWN_TOPIC_OR_PARTITION))
                continue
            topic = state.logs.topics.get(name)
            if topic is None and allow_auto and config.auto_create_topics:
                try:
                    topic = state.logs.create_topic(name, config.default_partitions, {})
                except InvalidTopicError:
                    topics.append(_missing_topic(name, INVALID_TOPIC))
                    continue
                except LogError as exc:
                    topics.append(_missing_topic(name, exc.error_code))
                    continue
                state.log_event(
                    "topic_created", topic=name, partitions=len(topic.partitions), auto=True
                )
            if topic is None:
                topics.append(_missing_topic(name, UNKNOWN_TOPIC_OR_PARTITION))
            else:
                topics.append(topic_metadata(config.node_id, topic))
    return {
        "throttle_time_ms": 0,
        "brokers": [
            {
                "node_id": config.node_id,
                "host": config.advertised,
                "port": config.port,
                "rack": None,
            }
        ],
        "cluster_id": config.cluster_id,
        "controller_id": config.node_id,
        "topics": topics,
        "cluster_authorized_operations": AUTHORIZED_OPERATIONS_OMITTED,
    }
