"""Produce and InitProducerId.

Each partition's records are appended as received (the log verifies CRC-32C and rewrites only
baseOffset) before the response is built, so an acknowledged batch is in the OS page cache and
survives kill -9 (and, with flush policy `always`, power loss). acks=0 gets no response.
"""

from __future__ import annotations

from typing import Any

from headwater.broker.handlers.raw import RawResponse
from headwater.broker.log.errors import LogError
from headwater.broker.protocol.legacy_produce import (
    LegacyProduceRequest,
    encode_legacy_produce_error,
)

CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
TRANSACTIONS_NOT_SUPPORTED = (
    "transactions are not supported by the embedded broker; use a Kafka cluster"
)


def _partition_error(index: int, code: int, message: str | None) -> dict[str, Any]:
    return {
        "index": index,
        "error_code": code,
        "base_offset": -1,
        "log_append_time": -1,
        "log_start_offset": -1,
        "record_errors": [],
        "error_message": message,
    }


def handle_produce(state: Any, request: Any) -> dict[str, Any] | RawResponse | None:
    body = request.body
    if isinstance(body, LegacyProduceRequest):
        if body.acks == 0:
            return None
        return RawResponse(
            encode_legacy_produce_error(request.api_version, body, UNSUPPORTED_VERSION)
        )
    now_ms = state.now_ms()
    metrics = state.metrics
    responses = []
    for topic_data in body.topic_data:
        name = topic_data.name
        topic = state.topic_or_autocreate(name)
        partitions = []
        for part in topic_data.partition_data:
            index = part.index
            if body.transactional_id is not None:
                partitions.append(
                    _partition_error(index, INVALID_REQUEST, TRANSACTIONS_NOT_SUPPORTED)
                )
                continue
            if topic is None or not 0 <= index < len(topic.partitions):
                partitions.append(
                    _partition_error(
                        index, UNKNOWN_TOPIC_OR_PARTITION, f"unknown topic-partition {name}-{index}"
                    )
                )
                continue
            records = part.records
            if not records:
                partitions.append(
                    _partition_error(index, CORRUPT_MESSAGE, "produce request carries no records")
                )
                continue
            try:
                result = topic.partitions[index].append(records, now_ms)
            except LogError as exc:
                metrics.produce_errors.labels(error=type(exc).__name__).inc()
                state.log_event(
                    "produce_rejected",
                    topic=name,
                    partition=index,
                    error=type(exc).__name__,
                    reason=str(exc),
                )
                partitions.append(_partition_error(index, exc.error_code, str(exc)))
                continue
            metrics.record_append(name, index, len(records), result.record_count)
            state.notifier.notify(name, index)
            partitions.append(
                {
                    "index": index,
                    "error_code": 0,
                    "base_offset": result.base_offset,
                    "log_append_time": -1,
                    "log_start_offset": result.log_start_offset,
                    "record_errors": [],
                    "error_message": None,
                }
            )
        responses.append({"name": name, "partition_responses": partitions})
    if body.acks == 0:
        return None
    return {"responses": responses, "throttle_time_ms": 0, "node_endpoints": []}


def handle_init_producer_id(state: Any, request: Any) -> dict[str, Any]:
    body = request.body
    if body.transactional_id is not None:
        return {
            "throttle_time_ms": 0,
            "error_code": INVALID_REQUEST,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    pid = getattr(body, "producer_id", -1)
    epoch = getattr(body, "producer_epoch", -1)
    if pid >= 0 and 0 <= epoch < 32767:
        # KIP-360: an idempotent producer bumps its epoch to reset sequences after an error.
        return {
            "throttle_time_ms": 0,
            "error_code": 0,
            "producer_id": pid,
            "producer_epoch": epoch + 1,
        }
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "producer_id": state.producer_ids.allocate(),
        "producer_epoch": 0,
    }
