"""Fetch (long poll) and ListOffsets. Fetch responses are encoded by `protocol.fetch_response`.

Fetch answers as soon as `min_bytes` are available or `max_wait` has passed, waiting on the
append notifier (never polling). Each partition returns whole batches from the one containing the
fetch offset (clients skip the records before it), at least one batch even when it is larger than
the limits (KIP-74). An empty result is empty record bytes, never null. There are no fetch
sessions: every response carries session id 0, which tells clients to send full fetches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from headwater.broker.handlers.bodies import FetchBody
from headwater.broker.log.errors import LogError
from headwater.broker.protocol.codec import Request
from headwater.broker.state import BrokerState

UNKNOWN_TOPIC_OR_PARTITION = 3
EARLIEST = -2
LATEST = -1
MAX_TIMESTAMP = -3


def _partition(
    index: int, error: int, hw: int = -1, log_start: int = -1, records: bytes | memoryview = b""
) -> dict[str, Any]:
    return {
        "partition_index": index,
        "error_code": error,
        "high_watermark": hw,
        "last_stable_offset": hw,
        "log_start_offset": log_start,
        "aborted_transactions": [],
        "preferred_read_replica": -1,
        "records": records,
    }


def _read_all(state: BrokerState, body: FetchBody) -> tuple[list[dict[str, Any]], int, bool]:
    """One pass over every requested partition: (topic responses, bytes, any error)."""
    budget = body.max_bytes
    total = 0
    errors = False
    responses = []
    logs = state.logs
    for fetch_topic in body.topics:
        name = fetch_topic.topic
        topic = logs.topics.get(name)
        parts = []
        for fp in fetch_topic.partitions:
            index = fp.partition
            if topic is None or not 0 <= index < len(topic.partitions):
                parts.append(_partition(index, UNKNOWN_TOPIC_OR_PARTITION))
                errors = True
                continue
            log = topic.partitions[index]
            limit = min(fp.partition_max_bytes, budget) if total else fp.partition_max_bytes
            try:
                records = log.read(fp.fetch_offset, max(limit, 1)) if limit > 0 else b""
            except LogError as exc:
                parts.append(
                    _partition(index, exc.error_code, log.log_end_offset, log.log_start_offset)
                )
                errors = True
                continue
            total += len(records)
            budget -= len(records)
            parts.append(_partition(index, 0, log.log_end_offset, log.log_start_offset, records))
        responses.append({"topic": name, "partitions": parts})
    return responses, total, errors


async def handle_fetch(state: BrokerState, request: Request) -> dict[str, Any]:
    body: FetchBody = request.body
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body.max_wait.total_seconds()
    keys = [(t.topic, p.partition) for t in body.topics for p in t.partitions]
    while True:
        responses, total, errors = _read_all(state, body)
        remaining = deadline - loop.time()
        if total >= body.min_bytes or errors or remaining <= 0:
            break
        if not await state.notifier.wait_any(keys, remaining):
            responses, total, errors = _read_all(state, body)
            break
    state.metrics.record_fetch(total)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": responses}


def handle_list_offsets(state: BrokerState, request: Request) -> dict[str, Any]:
    topics = []
    for lt in request.body.topics:
        topic = state.logs.topics.get(lt.name)
        parts = []
        for lp in lt.partitions:
            index = lp.partition_index
            if topic is None or not 0 <= index < len(topic.partitions):
                parts.append(
                    {
                        "partition_index": index,
                        "error_code": UNKNOWN_TOPIC_OR_PARTITION,
                        "timestamp": -1,
                        "offset": -1,
                        "leader_epoch": -1,
                    }
                )
                continue
            log = topic.partitions[index]
            ts = lp.timestamp
            if ts == LATEST:
                offset, found_ts = log.log_end_offset, -1
            elif ts == EARLIEST:
                offset, found_ts = log.log_start_offset, -1
            elif ts == MAX_TIMESTAMP:
                found = log.max_timestamp()
                offset, found_ts = found if found is not None else (-1, -1)
            else:
                found = log.offset_for_timestamp(ts)
                offset, found_ts = found if found is not None else (-1, -1)
            parts.append(
                {
                    "partition_index": index,
                    "error_code": 0,
                    "timestamp": found_ts,
                    "offset": offset,
                    "leader_epoch": 0,
                }
            )
        topics.append({"name": lt.name, "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
