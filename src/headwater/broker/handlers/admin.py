"""CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs.

One node means a replication factor of 1 (or -1, "broker default"); anything else is refused with
INVALID_REPLICATION_FACTOR and a message that says to use a Kafka cluster for replication.
"""

from __future__ import annotations

from typing import Any

from headwater.broker.log.config import STORED_ONLY_DEFAULTS
from headwater.broker.log.errors import LogError
from headwater.broker.protocol.codec import Request
from headwater.broker.state import BrokerState

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REPLICATION_FACTOR = 38
INVALID_REQUEST = 42
RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
SOURCE_TOPIC_CONFIG = 1
SOURCE_DEFAULT = 5


def handle_create_topics(state: BrokerState, request: Request) -> dict[str, Any]:
    body = request.body
    results = []
    for ct in body.topics:
        error, message = 0, None
        if ct.replication_factor not in (-1, 1):
            error = INVALID_REPLICATION_FACTOR
            message = (
                f"replication factor {ct.replication_factor} is impossible on the "
                "single-node embedded broker; use 1, or a Kafka cluster for replication"
            )
        elif ct.assignments:
            error, message = INVALID_REQUEST, "manual replica assignments are not supported"
        else:
            partitions = (
                ct.num_partitions
                if ct.num_partitions > 0
                else (
                    state.config.default_partitions
                    if ct.num_partitions == -1
                    else ct.num_partitions
                )
            )
            configs = {c.name: c.value for c in ct.configs if c.value is not None}
            try:
                state.logs.create_topic(
                    ct.name, partitions, configs, validate_only=body.validate_only
                )
                if not body.validate_only:
                    state.log_event("topic_created", topic=ct.name, partitions=partitions)
            except LogError as exc:
                error, message = exc.error_code, str(exc)
        results.append({"name": ct.name, "error_code": error, "error_message": message})
    return {"throttle_time_ms": 0, "topics": results}


def handle_delete_topics(state: BrokerState, request: Request) -> dict[str, Any]:
    responses = []
    for name in request.body.topic_names:
        if name not in state.logs.topics:
            responses.append({"name": name, "error_code": UNKNOWN_TOPIC_OR_PARTITION})
            continue
        state.logs.delete_topic(name)
        state.groups.delete_topic_offsets(name)
        state.metrics.forget_topic(name)
        state.log_event("topic_deleted", topic=name)
        responses.append({"name": name, "error_code": 0})
    return {"throttle_time_ms": 0, "responses": responses}


def handle_create_partitions(state: BrokerState, request: Request) -> dict[str, Any]:
    body = request.body
    results = []
    for t in body.topics:
        error, message = 0, None
        if t.name not in state.logs.topics:
            error, message = UNKNOWN_TOPIC_OR_PARTITION, f"unknown topic {t.name!r}"
        elif t.assignments:
            error, message = INVALID_REQUEST, "manual replica assignments are not supported"
        elif not body.validate_only:
            try:
                state.logs.create_partitions(t.name, t.count)
            except LogError as exc:
                error, message = exc.error_code, str(exc)
        results.append({"name": t.name, "error_code": error, "error_message": message})
    return {"throttle_time_ms": 0, "results": results}


def _config_entry(
    name: str, value: str | None, is_default: bool, read_only: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "read_only": read_only,
        "is_default": is_default,
        "config_source": SOURCE_DEFAULT if is_default else SOURCE_TOPIC_CONFIG,
        "is_sensitive": False,
        "synonyms": [],
    }


def _broker_configs(state: BrokerState) -> list[tuple[str, str, bool]]:
    c = state.config
    return [
        ("broker.id", str(c.node_id), True),
        ("auto.create.topics.enable", str(c.auto_create_topics).lower(), True),
        ("num.partitions", str(c.default_partitions), True),
        ("socket.request.max.bytes", str(c.max_frame_bytes), True),
        ("log.flush.policy", c.log.flush_policy, True),
        ("message.max.bytes", str(c.log.max_message_bytes), True),
        # One node: every replica count is 1, and no replica is ever elected unclean.
        ("default.replication.factor", "1", True),
        ("offsets.topic.replication.factor", "1", True),
        ("min.insync.replicas", STORED_ONLY_DEFAULTS["min.insync.replicas"], True),
        ("unclean.leader.election.enable", "false", True),
    ]


def handle_describe_configs(state: BrokerState, request: Request) -> dict[str, Any]:
    results = []
    for res in request.body.resources:
        keys = set(res.configuration_keys) if res.configuration_keys is not None else None
        error, message, entries = 0, None, []
        if res.resource_type == RESOURCE_TOPIC:
            if res.resource_name not in state.logs.topics:
                error, message = UNKNOWN_TOPIC_OR_PARTITION, f"unknown topic {res.resource_name!r}"
            else:
                entries = [
                    _config_entry(n, v, d)
                    for n, v, d in state.logs.describe_config(res.resource_name)
                ]
        elif res.resource_type == RESOURCE_BROKER:
            entries = [
                _config_entry(n, v, True, read_only=True) for n, v, _ in _broker_configs(state)
            ]
        else:
            error, message = INVALID_REQUEST, f"resource type {res.resource_type} not supported"
        if keys is not None:
            entries = [e for e in entries if e["name"] in keys]
        results.append(
            {
                "error_code": error,
                "error_message": message,
                "resource_type": res.resource_type,
                "resource_name": res.resource_name,
                "configs": entries,
            }
        )
    return {"throttle_time_ms": 0, "results": results}
