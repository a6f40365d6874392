"""The Kafka consumer: batched reads as `Record`s, explicit commits, rebalance hooks.

Rules:
1. `consume` returns records only. Partition EOF only marks the partition for `at_end`;
   broker-down notices and the like are logged; a fatal error or a refused subscription raises.
2. Nothing is committed unless the caller commits (auto-commit is off by default). Committing
   records commits the offset *after* the highest record per partition, Kafka's convention.
3. Rebalance callbacks run inside `consume`, on the calling thread; an exception raised by one
   comes out of that `consume` call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import confluent_kafka as ck
from confluent_kafka import KafkaError, KafkaException

from headwater.transport.base import OnAssign, OnRevoke, Record, RecordColumns, TopicPartition
from headwater.transport.closing import ClosesOnExit
from headwater.transport.errors import (
    BrokerUnavailableError,
    CommitError,
    TopicError,
    TransportConfigError,
    TransportError,
)
from headwater.transport.kafka.config import ClientSettings, consumer_config
from headwater.transport.kafka.errors import kafka_error, translate
from headwater.transport.options import ConsumerOptions

log = logging.getLogger("headwater.transport")

_OFFSET_INVALID = ck.OFFSET_INVALID  # librdkafka's "no offset" (-1001)
_OFFSET_STORED = ck.OFFSET_STORED  # "start from the committed offset" (-1000)
_NO_TIMESTAMP = ck.TIMESTAMP_NOT_AVAILABLE
#: Refusals that a consumer cannot outwait: raised from consume().
_RAISE_FROM_CONSUME = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                 KafkaError.GROUP_AUTHORIZATION_FAILED})  # fmt: skip


class KafkaConsumer(ClosesOnExit):
    """`headwater.transport.Consumer` over confluent-kafka."""

    def __init__(
        self, settings: ClientSettings, group_id: str, options: ConsumerOptions | None = None
    ) -> None:
        if not group_id:
            raise TransportConfigError("a consumer needs a non-empty group_id")
        self.options = options or ConsumerOptions()
        self.group_id = group_id
        self._fatal: TransportError | None = None
        self._closed = False
        self._at_end: set[tuple[str, int]] = set()  # partitions whose end consume() saw last
        conf = consumer_config(settings, group_id, self.options)
        conf["error_cb"] = self._on_client_error
        conf["on_commit"] = self._on_commit
        try:
            self._consumer = ck.Consumer(conf)
        except KafkaException as exc:
            raise translate(exc, "create consumer") from None
        except (TypeError, ValueError) as exc:
            raise TransportConfigError(f"create consumer: {exc}") from None

    # -- where to read ----------------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: OnAssign | None = None,
        on_revoke: OnRevoke | None = None,
    ) -> None:
        """Join the group for `topics`; the group coordinator decides which partitions are ours."""
        if isinstance(topics, str):
            raise TransportConfigError(
                f"subscribe takes a list of topics, not the string {topics!r}"
            )
        self._call(
            self._consumer.subscribe,
            f"subscribe to {list(topics)}",
            list(topics),
            on_assign=self._assign_hook(on_assign),
            on_revoke=self._revoke_hook(on_revoke),
        )

    def unsubscribe(self) -> None:
        self._call(self._consumer.unsubscribe, "unsubscribe")
        self._at_end.clear()

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read exactly these partitions, outside group management; offset None = committed."""
        self._call(self._consumer.assign, "assign", [_theirs(p) for p in partitions])
        self._at_end.clear()

    def assignment(self) -> list[TopicPartition]:
        """The partitions this consumer reads now (offsets: see `position`)."""
        parts = self._call(self._consumer.assignment, "assignment")
        return [TopicPartition(p.topic, p.partition) for p in parts]

    # -- reading ----------------------------------------------------------------------------

    def consume(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to `max_records` records, waiting at most `timeout_s` for the first (rule 1)."""
        self._check_usable()
        messages = self._call(self._consumer.consume, "consume", max_records, timeout_s)
        self._raise_fatal()
        records = []
        at_end = self._at_end
        for m in messages:
            err = m.error()
            if err is None:
                if at_end:
                    at_end.discard((m.topic(), m.partition()))
                ts_type, ts = m.timestamp()
                records.append(
                    Record(
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        m.key(),
                        m.value(),
                        tuple(m.headers() or ()),
                        None if ts_type == _NO_TIMESTAMP else ts,
                    )
                )
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end.add((m.topic(), m.partition()))
            else:
                self._on_message_error(err, m)
        return records

    def consume_columns(self, max_records: int = 10_000, timeout_s: float = 1.0) -> RecordColumns:
        """Like `consume`, as parallel lists: about half the Python work per record (rule 1)."""
        self._check_usable()
        messages = self._call(self._consumer.consume, "consume", max_records, timeout_s)
        self._raise_fatal()
        out = RecordColumns()
        topics, parts, offsets = out.topic, out.partition, out.offset
        keys, values, stamps = out.key, out.value, out.timestamp_ms
        at_end = self._at_end
        for m in messages:
            err = m.error()
            if err is None:
                topic, part = m.topic(), m.partition()
                if at_end:
                    at_end.discard((topic, part))
                topics.append(topic)
                parts.append(part)
                offsets.append(m.offset())
                keys.append(m.key())
                values.append(m.value())
                ts_type, ts = m.timestamp()
                stamps.append(None if ts_type == _NO_TIMESTAMP else ts)
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end.add((m.topic(), m.partition()))
            else:
                self._on_message_error(err, m)
        return out

    def at_end(self, partition: TopicPartition) -> bool:
        """True when consume() last saw this partition's end: every record written before then
        has been returned (a drain loop's stop condition; Kinesis: MillisBehindLatest == 0)."""
        return (partition.topic, partition.partition) in self._at_end

    # -- offsets ----------------------------------------------------------------------------

    def commit(
        self,
        offsets: Iterable[Record] | Iterable[TopicPartition] | None = None,
        asynchronous: bool = False,
    ) -> list[TopicPartition]:
        """Commit; returns the committed next-offsets (empty when asynchronous or nothing to do)."""
        self._check_usable()
        kwargs: dict[str, Any] = {"asynchronous": asynchronous}
        if offsets is not None:
            theirs = _next_offsets(offsets)
            if not theirs:
                return []
            kwargs["offsets"] = theirs
        try:
            result = self._consumer.commit(**kwargs)
        except KafkaException as exc:
            err = kafka_error(exc)
            if err.code() == KafkaError._NO_OFFSET:
                return []  # nothing consumed since the last commit
            raise _commit_error(err) from None
        if result is None:
            return []
        for p in result:
            if p.error is not None:
                raise _commit_error(p.error, f"{p.topic}[{p.partition}]")
        return [_ours(p) for p in result]

    def committed(
        self, partitions: Iterable[TopicPartition], timeout_s: float = 10.0
    ) -> list[TopicPartition]:
        """The group's committed next-offsets; offset None where nothing was committed."""
        theirs = [ck.TopicPartition(p.topic, p.partition) for p in partitions]
        result = self._call(self._consumer.committed, "committed", theirs, timeout=timeout_s)
        return [_checked(p, "committed") for p in result]

    def position(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """The offset the next consume() returns per partition; None before the first fetch."""
        theirs = [ck.TopicPartition(p.topic, p.partition) for p in partitions]
        return [
            _checked(p, "position") for p in self._call(self._consumer.position, "position", theirs)
        ]

    def seek(self, partition: TopicPartition) -> None:
        """Move an assigned partition to `partition.offset` (or EARLIEST / LATEST)."""
        if partition.offset is None:
            raise TransportConfigError(f"seek {partition.topic}[{partition.partition}]: no offset")
        self._call(self._consumer.seek, f"seek {partition}", _theirs(partition))
        self._at_end.discard((partition.topic, partition.partition))

    def watermarks(
        self, partition: TopicPartition, timeout_s: float = 10.0, cached: bool = False
    ) -> tuple[int, int]:
        """(low, high) from the broker: the first retained offset, the next offset to write;
        `cached`: from the last fetch response, no request (negative before the first fetch)."""
        theirs = ck.TopicPartition(partition.topic, partition.partition)
        marks = self._call(
            self._consumer.get_watermark_offsets,
            "watermarks",
            theirs,
            timeout=timeout_s,
            cached=cached,
        )
        if marks is None:
            raise BrokerUnavailableError(f"watermarks of {partition}: no answer in {timeout_s}s")
        return int(marks[0]), int(marks[1])

    def offsets_for_time(
        self, partitions: Iterable[TopicPartition], timestamp_ms: int, timeout_s: float = 10.0
    ) -> list[TopicPartition]:
        """Per partition, the first offset at or after `timestamp_ms` (ListOffsets by time); where
        no record is that recent (librdkafka answers -1), the end as it was before the lookup."""
        parts = list(partitions)
        ends = {(p.topic, p.partition): self.watermarks(p, timeout_s)[1] for p in parts}
        theirs = [ck.TopicPartition(p.topic, p.partition, timestamp_ms) for p in parts]
        found = self._call(
            self._consumer.offsets_for_times, "offsets_for_times", theirs, timeout=timeout_s
        )
        out = []
        for p in found:
            ours = _checked(p, "offsets_for_times")
            offset = p.offset if p.offset >= 0 else ends[(p.topic, p.partition)]
            out.append(TopicPartition(ours.topic, ours.partition, offset))
        return out

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching these partitions (backpressure) while staying in the group."""
        self._call(self._consumer.pause, "pause", [_theirs(p) for p in partitions])

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._call(self._consumer.resume, "resume", [_theirs(p) for p in partitions])

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Leave the group (its partitions go to the others now) and release the client."""
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except KafkaException as exc:
            log.warning("%s", translate(exc, "close consumer"))

    # -- internals --------------------------------------------------------------------------

    def _assign_hook(self, on_assign: OnAssign | None) -> Any:
        """Wrap the user's on_assign; start offsets it returns override the committed ones."""
        cooperative = self.options.assignment_strategy == "cooperative-sticky"

        def hook(consumer: ck.Consumer, parts: list[ck.TopicPartition]) -> None:
            self._at_end.difference_update((p.topic, p.partition) for p in parts)
            if on_assign is None:
                return  # confluent-kafka assigns `parts` itself
            chosen = on_assign([_ours(p) for p in parts])
            if chosen is None:
                return  # confluent-kafka assigns `parts` itself
            starts = {(p.topic, p.partition): p.offset for p in chosen}
            final = [
                ck.TopicPartition(p.topic, p.partition, _start(starts.get((p.topic, p.partition))))
                for p in parts
            ]
            if cooperative:
                consumer.incremental_assign(final)
            else:
                consumer.assign(final)

        return hook

    def _revoke_hook(self, on_revoke: OnRevoke | None) -> Any:
        def hook(consumer: ck.Consumer, parts: list[ck.TopicPartition]) -> None:
            self._at_end.difference_update((p.topic, p.partition) for p in parts)
            if on_revoke is not None:
                on_revoke([_ours(p) for p in parts])

        return hook

    def _call(self, fn: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise TransportError(f"{what}: consumer is closed")
        try:
            return fn(*args, **kwargs)
        except KafkaException as exc:
            raise translate(exc, what) from None
        except RuntimeError as exc:  # confluent-kafka's "consumer closed"
            raise TransportError(f"{what}: {exc}") from None

    def _on_message_error(self, err: KafkaError, msg: Any) -> None:
        code = err.code()
        if err.fatal() or code in _RAISE_FROM_CONSUME:
            raise translate(err, "consume", topic=msg.topic())
        log.warning("consumer %s: %s [%s]", self.group_id, err.str(), err.name())

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = translate(err, f"consumer {self.group_id}")
        log.warning("consumer %s: %s [%s]", self.group_id, err.str(), err.name())

    def _on_commit(self, err: KafkaError | None, partitions: list[ck.TopicPartition]) -> None:
        if err is not None and err.code() != KafkaError._NO_OFFSET:
            log.warning("consumer %s: commit failed: %s [%s]", self.group_id, err.str(), err.name())

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _check_usable(self) -> None:
        if self._closed:
            raise TransportError("consumer is closed")
        self._raise_fatal()


def _ours(p: ck.TopicPartition) -> TopicPartition:
    offset = None if p.offset in (_OFFSET_INVALID, _OFFSET_STORED) else p.offset
    return TopicPartition(p.topic, p.partition, offset)


def _theirs(p: TopicPartition) -> ck.TopicPartition:
    return ck.TopicPartition(p.topic, p.partition, _start(p.offset))


def _start(offset: int | None) -> int:
    return _OFFSET_STORED if offset is None else offset


def _checked(p: ck.TopicPartition, what: str) -> TopicPartition:
    if p.error is not None:
        raise translate(p.error, f"{what} {p.topic}[{p.partition}]", topic=p.topic)
    return TopicPartition(p.topic, p.partition, None if p.offset < 0 else p.offset)


def _next_offsets(items: Iterable[Record] | Iterable[TopicPartition]) -> list[ck.TopicPartition]:
    """Per partition, the offset to commit: after the highest record, or as given."""
    nxt: dict[tuple[str, int], int] = {}
    for item in items:
        key = (item.topic, item.partition)
        if isinstance(item, Record):
            nxt[key] = max(nxt.get(key, 0), item.offset + 1)
        elif item.offset is None or item.offset < 0:
            raise TransportConfigError(
                f"commit {item.topic}[{item.partition}]: offset must be >= 0"
            )
        else:
            nxt[key] = item.offset
    return [ck.TopicPartition(t, p, o) for (t, p), o in nxt.items()]


def _commit_error(err: KafkaError, where: str = "") -> TransportError:
    error = translate(err, f"commit {where}".rstrip())
    if isinstance(error, (BrokerUnavailableError, CommitError, TopicError)):
        return error
    return CommitError(error.message, retriable=error.retriable, name=error.name, code=error.code)
