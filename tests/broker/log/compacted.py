"""Helpers for compaction tests: keyed appends, and reading a log back with kafka-python's decoder
(someone else's reader: it checks every CRC and offset delta the cleaner rewrote)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

with warnings.catch_warnings():  # kafka-python's import uses importlib.resources' legacy API
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.record.default_records import DefaultRecordBatchBuilder
    from kafka.record.memory_records import MemoryRecords

from headwater.broker.log import PartitionLog

from .batches import make_batch

Row = tuple[int, bytes | None, bytes | None]  # offset, key, value
T0 = 1_700_000_000_000


def put(
    log: PartitionLog,
    pairs: Sequence[tuple[bytes | None, bytes | None]],
    *,
    now_ms: int = T0,
    **batch: int,
) -> tuple[int, int]:
    """Append one batch of (key, value) records stamped `now_ms`; (first, last) offset."""
    keys = [k for k, _ in pairs]
    values = [v for _, v in pairs]
    result = log.append(make_batch(values, keys=keys, timestamp=now_ms, **batch), now_ms)
    return result.base_offset, result.last_offset


def gzip_batch(pairs: Sequence[tuple[bytes, bytes | None]], timestamp: int = T0) -> bytes:
    """A gzip-compressed batch built by kafka-python."""
    builder = DefaultRecordBatchBuilder(2, 1, False, -1, -1, -1, 1 << 20)
    for i, (key, value) in enumerate(pairs):
        builder.append(i, timestamp, key, value, [])
    return bytes(builder.build())


def rows(log: PartitionLog, start: int | None = None) -> list[Row]:
    """Every record from `start` (the log start) to the log end, as a consumer sees them."""
    offset = log.log_start_offset if start is None else start
    out: list[Row] = []
    while offset < log.log_end_offset:
        data = bytes(log.read(offset, 1 << 20))
        if not data:
            break
        records = MemoryRecords(data)
        while (batch := records.next_batch()) is not None:
            assert batch.validate_crc(), f"bad CRC in the batch at {batch.base_offset}"
            for record in batch:
                if record.offset >= offset:
                    out.append((record.offset, record.key, record.value))
            offset = max(offset, batch.next_offset)
    return out


def latest_per_key(all_rows: Sequence[Row]) -> dict[bytes | None, Row]:
    latest: dict[bytes | None, Row] = {}
    for row in all_rows:
        latest[row[1]] = row
    return latest
