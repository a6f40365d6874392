"""The request bodies handlers read, as Protocols: every kio version of a request satisfies one.

kio generates one class per API version (`kio.schema.fetch.v4.request.FetchRequest`, ...). A
handler serves every advertised version through the fields they share, so it types its body with
the Protocol here (`body: FetchBody = request.body`). The read-only properties make the
Protocols covariant, so kio's narrower field types (`i32`, `TopicName`, tuples) conform; the
`_conformance` function below lets mypy prove that for the oldest and newest version served.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol


class ProducePartitionData(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def records(self) -> bytes | None: ...


class ProduceTopicData(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def partition_data(self) -> Sequence[ProducePartitionData]: ...


class ProduceBody(Protocol):
    """Produce v3+ (v0-2 arrive as `LegacyProduceRequest`)."""

    @property
    def transactional_id(self) -> str | None: ...
    @property
    def acks(self) -> int: ...
    @property
    def topic_data(self) -> Sequence[ProduceTopicData]: ...


class FetchPartition(Protocol):
    @property
    def partition(self) -> int: ...
    @property
    def fetch_offset(self) -> int: ...
    @property
    def partition_max_bytes(self) -> int: ...


class FetchTopic(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partitions(self) -> Sequence[FetchPartition]: ...


class FetchBody(Protocol):
    @property
    def max_wait(self) -> datetime.timedelta: ...
    @property
    def min_bytes(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def topics(self) -> Sequence[FetchTopic]: ...


if TYPE_CHECKING:  # pragma: no cover - checked by mypy, never run
    from kio.schema.fetch.v4.request import FetchRequest as FetchV4
    from kio.schema.fetch.v12.request import FetchRequest as FetchV12
    from kio.schema.produce.v3.request import ProduceRequest as ProduceV3
    from kio.schema.produce.v10.request import ProduceRequest as ProduceV10

    def _conformance(p3: ProduceV3, p10: ProduceV10, f4: FetchV4, f12: FetchV12) -> None:
        produce: list[ProduceBody] = [p3, p10]
        fetch: list[FetchBody] = [f4, f12]
        del produce, fetch
