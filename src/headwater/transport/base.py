"""The transport interface: value objects and the `Producer` / `Consumer` / `Admin` protocols.

Sources and sinks depend on these types only, never on a client library, so that the Kafka
backend (`kafka/`, used for the embedded broker and for Kafka clusters alike) and a later Kinesis
backend are interchangeable. The vocabulary is Kafka's; Kinesis maps onto it:

    Kafka            Kinesis
    topic            stream
    partition        shard (the backend numbers a stream's shards 0..n-1)
    offset           sequence number (a Python int holds all 128 bits)
    committed offset checkpoint, kept by the consumer in its own table

Offsets follow Kafka's convention everywhere: a *committed* offset or an assignment start offset is
the offset of the *next* record to read (last processed + 1); `Record.offset` is the record's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from headwater.transport.errors import DeliveryError, TransportConfigError

#: Start offsets that are not positions: the oldest retained record / the next record produced.
EARLIEST = -2
LATEST = -1

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")

Header = tuple[str, bytes | None]
#: What `produce` accepts as headers; str values are encoded as UTF-8.
HeadersLike = Mapping[str, bytes | str | None] | Sequence[tuple[str, bytes | str | None]]


@dataclass(slots=True)
class Record:
    """One record read from a topic, byte-exact as the producer sent it.

    Treat it as read-only. It is not frozen because consume() makes one per record and a frozen
    dataclass takes about six times as long to construct (1.4 µs against 0.2 µs).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None is a tombstone (e.g. after a CDC delete)
    headers: tuple[Header, ...] = ()
    timestamp_ms: int | None = None  # None when the broker stored no timestamp

    def header(self, name: str) -> bytes | None:
        """The last value of header `name` (Kafka allows repeats; the last one wins), or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None


@dataclass(slots=True)
class RecordColumns:
    """Many records as parallel lists, one per field: what bulk consumers (the lake sink) build
    Arrow arrays from. `consume_columns` fills it without making a `Record` per message.

    Headers are left out: bulk readers of record values do not need them.
    """

    topic: list[str] = field(default_factory=list)
    partition: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    key: list[bytes | None] = field(default_factory=list)
    value: list[bytes | None] = field(default_factory=list)
    timestamp_ms: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offset)


@dataclass(frozen=True, slots=True)
class ProducerRecord:
    """One record to produce; `partition=None` lets the partitioner hash the key."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: HeadersLike | None = None
    partition: int | None = None
    timestamp_ms: int | None = None  # None: the producer's clock at send time


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """A partition of a topic, with an offset where one is meant (start, commit or position).

    `offset=None` means "none": in `assign`, resume from the committed offset (or the reset policy);
    in results of `committed`/`position`, nothing committed / no position yet.
    """

    topic: str
    partition: int
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create. `replication_factor=None` takes the broker's default.

    Checked here, by Kafka's rules, so every broker refuses the same specs the same way.
    """

    name: str
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int | None = None

    def __post_init__(self) -> None:
        if not _TOPIC_NAME.fullmatch(self.name) or self.name in (".", ".."):
            raise TransportConfigError(
                f"topic name {self.name!r}: 1-249 of ASCII letters, digits, '.', '_' and '-'"
            )
        if self.partitions < 1:
            raise TransportConfigError(f"topic {self.name!r}: partitions must be >= 1")
        if self.replication_factor is not None and self.replication_factor < 1:
            raise TransportConfigError(f"topic {self.name!r}: replication_factor must be >= 1")


@dataclass(frozen=True, slots=True)
class TopicDescription:
    """What the broker reports about one topic."""

    name: str
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True, slots=True)
class BrokerNode:
    """One live broker of a cluster; `rack` is its `broker.rack` (its zone), None if unset."""

    id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterDescription:
    """The brokers that answer now (a dead or fenced one is absent) and who controls them."""

    cluster_id: str | None
    controller_id: int | None
    brokers: tuple[BrokerNode, ...]


@dataclass(frozen=True, slots=True)
class PartitionReplicas:
    """Where one partition lives: its leader (None when it has none: offline), every replica's
    broker id, and the in-sync ones among them (Kafka's ISR)."""

    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of producing one record: where it was stored, or why it was not."""

    topic: str
    partition: int
    offset: int  # -1 when not stored
    error: DeliveryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


OnDelivery = Callable[[Delivery], None]
#: One record of `produce_group`: (topic, value, key, headers). Headers as a list of (name, value)
#: pairs, which the Kafka client takes as is (share one list between the records of a group).
GroupRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]
#: Called once per `produce_group`, after every record has an outcome: None when every record
#: was stored, else a `GroupDeliveryError` (a `DeliveryError`) listing each failed record.
OnGroupComplete = Callable[[DeliveryError | None], None]
#: Called with the newly assigned partitions; may return them with start offsets to override
#: the committed ones (the exactly-once sink returns its own stored offsets here).
OnAssign = Callable[[list[TopicPartition]], Iterable[TopicPartition] | None]
OnRevoke = Callable[[list[TopicPartition]], None]


class _Closing(Protocol):
    def close(self) -> object: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Producer(_Closing, Protocol):
    """Appends records to topics; outcomes arrive as `Delivery` objects during poll/flush."""

    #: Deliveries that failed with no `on_delivery` to tell (each is logged too).
    failed: int

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: HeadersLike | None = None,
        partition: int | None = None,
        on_delivery: OnDelivery | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record; blocks (serving deliveries) while the local queue is full."""
        ...

    def produce_batch(
        self, records: Iterable[ProducerRecord], on_delivery: OnDelivery | None = None
    ) -> int:
        """Queue many records; returns how many were queued (all of them, or it raised)."""
        ...

    def produce_group(self, records: Sequence[GroupRecord], on_complete: OnGroupComplete) -> None:
        """Queue records acknowledged as one unit: `on_complete` runs once, when every record has
        an outcome, with None if all were stored, else a `GroupDeliveryError` naming each failed
        record (records the client refused outright count there too, they do not raise).

        For hot paths that answer upstream per group (an HTTP request, a CDC transaction): records
        are plain tuples (no object per record) and one callback serves the group instead of one
        `Delivery` per record. Raises (`QueueFullError`, a closed or failed producer) only when
        nothing of the group was queued; with `enqueue_timeout_s=0` a group that does not fit
        the local queue whole is refused whole, at once."""
        ...

    @property
    def unreachable(self) -> str | None:
        """Why no broker is reachable, if the client reported it and nothing was acknowledged
        since (served by `poll`); None otherwise."""
        ...

    def probe(self, timeout_s: float = 1.0) -> bool:
        """Ask the broker for metadata (blocking: not on an event loop); True if it answered,
        which also clears `unreachable`."""
        ...

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve delivery reports for up to `timeout_s`; returns how many were served."""
        ...

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait until all queued records are delivered or failed; returns how many are still out."""
        ...

    def close(self, timeout_s: float | None = 30.0) -> int:
        """Flush, then release the client; returns how many records were left undelivered."""
        ...


class Consumer(_Closing, Protocol):
    """Reads records in batches from subscribed or assigned partitions; commits explicitly."""

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: OnAssign | None = None,
        on_revoke: OnRevoke | None = None,
    ) -> None: ...

    def assign(self, partitions: Iterable[TopicPartition]) -> None: ...

    def assignment(self) -> list[TopicPartition]: ...

    def consume(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to `max_records` records; fewer (maybe none) when `timeout_s` passes first."""
        ...

    def consume_columns(self, max_records: int = 10_000, timeout_s: float = 1.0) -> RecordColumns:
        """`consume` for bulk readers: the same records as columns, no `Record` objects."""
        ...

    def commit(
        self,
        offsets: Iterable[Record] | Iterable[TopicPartition] | None = None,
        asynchronous: bool = False,
    ) -> list[TopicPartition]:
        """Commit after the given records, or the given next offsets, or all consumed so far."""
        ...

    def at_end(self, partition: TopicPartition) -> bool:
        """Whether consume() has returned everything written to `partition` before it looked."""
        ...

    def committed(
        self, partitions: Iterable[TopicPartition], timeout_s: float = 10.0
    ) -> list[TopicPartition]: ...

    def position(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]: ...

    def seek(self, partition: TopicPartition) -> None: ...

    def watermarks(
        self, partition: TopicPartition, timeout_s: float = 10.0, cached: bool = False
    ) -> tuple[int, int]:
        """(low, high): the first retained offset and the offset the next record will get.
        `cached`: what the last fetch response said, without asking the broker (negative when
        nothing was fetched yet)."""
        ...

    def offsets_for_time(
        self, partitions: Iterable[TopicPartition], timestamp_ms: int, timeout_s: float = 10.0
    ) -> list[TopicPartition]:
        """Per partition, the first offset whose record timestamp is at or after `timestamp_ms`
        (Kafka's ListOffsets by time); where no record is that recent, the end as it was before
        the lookup (a record written meanwhile is that recent, so it is not skipped)."""
        ...

    def pause(self, partitions: Iterable[TopicPartition]) -> None: ...

    def resume(self, partitions: Iterable[TopicPartition]) -> None: ...

    def close(self) -> None: ...


class Admin(_Closing, Protocol):
    """Creates, lists, describes and deletes topics; describes the cluster's brokers.

    `create_topics` fills in a durable replication factor and min ISR where a spec leaves them
    open (`headwater.transport.durability`)."""

    def create_topics(
        self, specs: Iterable[TopicSpec], wait: bool = True, exist_ok: bool = False
    ) -> None: ...

    def delete_topics(
        self, names: Iterable[str], wait: bool = True, missing_ok: bool = False
    ) -> None: ...

    def list_topics(self, timeout_s: float = 10.0, internal: bool = False) -> dict[str, int]:
        """Topic name -> partition count; Kafka's internal topics (`__…`) only when asked for."""
        ...

    def describe_topic(self, name: str, timeout_s: float = 10.0) -> TopicDescription: ...

    def describe_cluster(self, timeout_s: float = 10.0) -> ClusterDescription: ...

    def describe_partitions(
        self, names: Iterable[str], timeout_s: float = 10.0
    ) -> dict[str, tuple[PartitionReplicas, ...]]:
        """Leader, replicas and ISR of every partition of each named topic (one that does not
        exist raises `TopicError`)."""
        ...

    def broker_config(self, broker_id: int, timeout_s: float = 10.0) -> dict[str, str]:
        """A broker's configuration as it reports it (defaults included)."""
        ...

    def answering_brokers(self, broker_ids: Iterable[int], timeout_s: float = 3.0) -> set[int]:
        """The brokers among `broker_ids` that answer a request sent to each itself within
        `timeout_s` (the metadata lists a dead broker as long as the controller does not know)."""
        ...

    def close(self) -> None: ...
