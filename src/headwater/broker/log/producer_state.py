"""Idempotent-producer bookkeeping for one partition: epochs and the last five batches per producer.

Rules (Kafka's ProducerStateManager, for batches with producerId >= 0):

1. Same epoch and (first_seq, last_seq) equal to one of the five cached batches: a retry of a
   batch already stored. Answer with its original offsets; store nothing.
2. Epoch older than the one known: the producer is fenced (InvalidProducerEpochError).
3. Epoch newer than the one known: the sequence must start again at 0 (else OutOfOrderSequence).
4. Same epoch: first_seq must be last_seq + 1 of the newest batch, wrapping from 2**31-1 to 0.
5. A producer id never seen (or forgotten by retention): any sequence is accepted.

State lives in memory. It is rebuilt on open from the batch headers of the log, starting from the
newest `.snapshot` file at or below the log end (written when a segment rolls and on clean
shutdown), so duplicates are still recognised after a restart. Snapshot format, big endian:
version int16 (1), crc32c uint32 of everything after it, producer count int32, then per producer
producerId int64, epoch int16, batch count int8 and per batch first_seq int32, last_seq int32,
base_offset int64, last_offset int64. A snapshot that fails its CRC is ignored (the log is the
truth; the snapshot only saves scanning it).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import crc32c

from headwater.broker.log.batch import BatchHeader
from headwater.broker.log.errors import InvalidProducerEpochError, OutOfOrderSequenceError

BATCHES_PER_PRODUCER = 5  # Kafka's max.in.flight.requests.per.connection limit for idempotence
_INT32_MAX = 2**31 - 1

_SNAPSHOT_HEAD = struct.Struct(">hIi")
_PRODUCER = struct.Struct(">qhb")
_BATCH = struct.Struct(">iiqq")
_SNAPSHOT_VERSION = 1


class BatchMetadata(NamedTuple):
    """Where one producer batch went: enough to answer its retry with the same offsets."""

    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int


@dataclass(slots=True)
class ProducerEntry:
    """One producer id's epoch and its newest batches (oldest first)."""

    epoch: int
    batches: deque[BatchMetadata] = field(
        default_factory=lambda: deque(maxlen=BATCHES_PER_PRODUCER)
    )

    def find(self, first_seq: int, last_seq: int) -> BatchMetadata | None:
        for batch in self.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        return None


def in_sequence(last_seq: int, next_seq: int) -> bool:
    """Does `next_seq` directly follow `last_seq`? (int32 sequences wrap to 0.)"""
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _INT32_MAX)


class ProducerAppend:
    """Checks the batches of one append against the stored state and this append's earlier batches.

    Nothing changes in the manager until `commit()`, which the log calls after its write succeeded.
    """

    def __init__(self, manager: ProducerStateManager) -> None:
        self._manager = manager
        self._pending: dict[int, ProducerEntry] = {}

    def add(self, header: BatchHeader, base_offset: int) -> BatchMetadata | None:
        """Check one batch placed at `base_offset`; return the original batch if it is a retry."""
        pid = header.producer_id
        if pid < 0:
            return None
        first_seq, last_seq, epoch = (
            header.base_sequence,
            header.last_sequence,
            header.producer_epoch,
        )
        entry = self._pending.get(pid) or self._manager.producers.get(pid)
        if entry is None:
            updated = ProducerEntry(epoch)
        else:
            if epoch == entry.epoch:
                duplicate = entry.find(first_seq, last_seq)
                if duplicate is not None:
                    return duplicate
            if epoch < entry.epoch:
                raise InvalidProducerEpochError(
                    f"producer {pid} wrote with epoch {epoch}, older than the current {entry.epoch}"
                )
            if epoch > entry.epoch:
                if first_seq != 0:
                    raise OutOfOrderSequenceError(
                        f"producer {pid} started epoch {epoch} at sequence {first_seq}, not 0"
                    )
                updated = ProducerEntry(epoch)
            else:
                expected_after = entry.batches[-1].last_seq if entry.batches else first_seq - 1
                if not in_sequence(expected_after, first_seq):
                    raise OutOfOrderSequenceError(
                        f"producer {pid} epoch {epoch} sent sequence {first_seq}, "
                        f"expected {(expected_after + 1) % (_INT32_MAX + 1)}"
                    )
                updated = ProducerEntry(epoch, deque(entry.batches, maxlen=BATCHES_PER_PRODUCER))
        updated.batches.append(
            BatchMetadata(first_seq, last_seq, base_offset, base_offset + header.last_offset_delta)
        )
        self._pending[pid] = updated
        return None

    def commit(self) -> None:
        self._manager.producers.update(self._pending)


class ProducerStateManager:
    """Per-partition producer state: checks appends, replays the log, snapshots itself."""

    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

    def begin(self) -> ProducerAppend:
        return ProducerAppend(self)

    def replay(self, header: BatchHeader) -> None:
        """Apply a batch already in the log (rebuilding after a restart); no checks."""
        pid = header.producer_id
        if pid < 0:
            return
        entry = self.producers.get(pid)
        if entry is None or entry.epoch != header.producer_epoch:
            entry = self.producers[pid] = ProducerEntry(header.producer_epoch)
        entry.batches.append(
            BatchMetadata(
                header.base_sequence, header.last_sequence, header.base_offset, header.last_offset
            )
        )

    def truncate_head(self, log_start_offset: int) -> None:
        """Forget producers whose every batch was deleted by retention (Kafka does the same)."""
        gone = [
            pid
            for pid, entry in self.producers.items()
            if not entry.batches or entry.batches[-1].last_offset < log_start_offset
        ]
        for pid in gone:
            del self.producers[pid]

    def clear(self) -> None:
        self.producers.clear()

    def to_snapshot(self) -> bytes:
        """Serialize the state (format in the module docstring)."""
        parts = []
        for pid, entry in self.producers.items():
            parts.append(_PRODUCER.pack(pid, entry.epoch, len(entry.batches)))
            parts.extend(_BATCH.pack(*batch) for batch in entry.batches)
        body = struct.pack(">i", len(self.producers)) + b"".join(parts)
        return struct.pack(">hI", _SNAPSHOT_VERSION, crc32c.crc32c(body)) + body

    def load_snapshot(self, data: bytes) -> bool:
        """Replace the state with a snapshot's; False (state untouched) if it does not check out."""
        if len(data) < _SNAPSHOT_HEAD.size:
            return False
        version, crc, count = _SNAPSHOT_HEAD.unpack_from(data)
        if version != _SNAPSHOT_VERSION or crc32c.crc32c(memoryview(data)[6:]) != crc:
            return False
        producers: dict[int, ProducerEntry] = {}
        pos = _SNAPSHOT_HEAD.size
        try:
            for _ in range(count):
                pid, epoch, n = _PRODUCER.unpack_from(data, pos)
                pos += _PRODUCER.size
                entry = producers[pid] = ProducerEntry(epoch)
                for _ in range(n):
                    entry.batches.append(BatchMetadata(*_BATCH.unpack_from(data, pos)))
                    pos += _BATCH.size
        except struct.error:
            return False
        if pos != len(data):
            return False
        self.producers = producers
        return True
