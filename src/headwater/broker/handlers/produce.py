"""Produce and InitProducerId.

Sans-IO: `handle_produce` checks the request and returns a `ProduceAppends`, the appends to run
(each partition's records as received; the log verifies CRC-32C and rewrites only baseOffset) and
how to answer once they ran. The server runs the appends in order on its writer thread, off the
event loop (see `broker.writer`), then calls `complete` on the loop, which builds the response.
An acknowledged batch is therefore in the OS page cache and survives kill -9 (and, with flush
policy `always`, it was fdatasynced before the answer, so it survives power loss). acks=0 gets no
response; its appends still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.broker.handlers.bodies import ProduceBody
from headwater.broker.handlers.raw import RawResponse
from headwater.broker.log import AppendResult, PartitionLog
from headwater.broker.log.errors import LogError
from headwater.broker.protocol.codec import Request
from headwater.broker.protocol.legacy_produce import (
    LegacyProduceRequest,
    encode_legacy_produce_error,
)
from headwater.broker.state import BrokerState

CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
TRANSACTIONS_NOT_SUPPORTED = (
    "transactions are not supported by the embedded broker; use a Kafka cluster"
)

#: What one append came to: where it landed, or why it was refused.
AppendOutcome = AppendResult | LogError

#: Appends up to this many bytes in all, none under flush policy `always`, may run on the event
#: loop when the writer is idle (`broker.writer` rule 1): a page-cache write of this size takes
#: microseconds, less than the hop to the writer thread and back.
INLINE_APPEND_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class PartitionAppend:
    """One partition's records, to be appended to `log` at `now_ms`."""

    topic: str
    index: int
    log: PartitionLog
    records: bytes
    now_ms: int

    def run(self) -> AppendOutcome:
        """The blocking part: append (and fdatasync under `always`). Call off the event loop."""
        try:
            return self.log.append(self.records, self.now_ms)
        except LogError as exc:
            return exc


@dataclass(slots=True)
class ProduceAppends:
    """A produce request's effect: `appends` to run in order, then `complete` answers.

    `responses` holds each topic's partition answers in request order; the ones waiting on an
    append are None until `complete` fills them from the outcomes.
    """

    acks: int
    appends: list[PartitionAppend] = field(default_factory=list)
    responses: list[tuple[str, list[dict[str, Any] | None]]] = field(default_factory=list)

    @property
    def small(self) -> bool:
        """Cheap enough for the event loop: no fdatasync and at most INLINE_APPEND_BYTES."""
        size = 0
        for append in self.appends:
            if append.log.config.flush_policy == "always":
                return False
            size += len(append.records)
        return size <= INLINE_APPEND_BYTES

    def run(self) -> list[AppendOutcome]:
        """Every append, in order (on the writer thread, or inline when `small`)."""
        return [append.run() for append in self.appends]

    def complete(self, state: BrokerState, outcomes: list[AppendOutcome]) -> dict[str, Any] | None:
        """Record the outcomes (metrics, log lines, fetch wake-ups) and build the response."""
        answers = iter([_answer(state, a, o) for a, o in zip(self.appends, outcomes, strict=True)])
        topics = []
        for name, partitions in self.responses:
            filled = [p if p is not None else next(answers) for p in partitions]
            topics.append({"name": name, "partition_responses": filled})
        if self.acks == 0:
            return None
        return {"responses": topics, "throttle_time_ms": 0, "node_endpoints": []}


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


def _answer(state: BrokerState, append: PartitionAppend, outcome: AppendOutcome) -> dict[str, Any]:
    name, index = append.topic, append.index
    if isinstance(outcome, LogError):
        state.metrics.produce_errors.labels(error=type(outcome).__name__).inc()
        state.log_event(
            "produce_rejected",
            topic=name,
            partition=index,
            error=type(outcome).__name__,
            reason=str(outcome),
        )
        return _partition_error(index, outcome.error_code, str(outcome))
    state.metrics.record_append(name, index, len(append.records), outcome.record_count)
    state.notifier.notify(name, index)
    return {
        "index": index,
        "error_code": 0,
        "base_offset": outcome.base_offset,
        "log_append_time": -1,
        "log_start_offset": outcome.log_start_offset,
        "record_errors": [],
        "error_message": None,
    }


def handle_produce(state: BrokerState, request: Request) -> ProduceAppends | RawResponse | None:
    body = request.body
    if isinstance(body, LegacyProduceRequest):
        if body.acks == 0:
            return None
        return RawResponse(
            encode_legacy_produce_error(request.api_version, body, UNSUPPORTED_VERSION)
        )
    typed: ProduceBody = body
    now_ms = state.now_ms()
    effect = ProduceAppends(acks=typed.acks)
    for topic_data in typed.topic_data:
        name = topic_data.name
        topic = state.topic_or_autocreate(name)
        partitions: list[dict[str, Any] | None] = []
        for part in topic_data.partition_data:
            index, records = part.index, part.records
            if typed.transactional_id is not None:
                partitions.append(
                    _partition_error(index, INVALID_REQUEST, TRANSACTIONS_NOT_SUPPORTED)
                )
            elif topic is None or not 0 <= index < len(topic.partitions):
                partitions.append(
                    _partition_error(
                        index, UNKNOWN_TOPIC_OR_PARTITION, f"unknown topic-partition {name}-{index}"
                    )
                )
            elif not records:
                partitions.append(
                    _partition_error(index, CORRUPT_MESSAGE, "produce request carries no records")
                )
            else:
                log = topic.partitions[index]
                effect.appends.append(PartitionAppend(name, index, log, records, now_ms))
                partitions.append(None)
        effect.responses.append((name, partitions))
    return effect


def handle_init_producer_id(state: BrokerState, request: Request) -> dict[str, Any]:
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
