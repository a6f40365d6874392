"""Idempotent producer rules: duplicates, sequence gaps, epoch fencing, snapshots."""

from __future__ import annotations

import pytest

from headwater.broker.log import BatchHeader, InvalidProducerEpochError, OutOfOrderSequenceError
from headwater.broker.log.producer_state import BatchMetadata, ProducerStateManager

from .batches import make_batch, values

PID = 1000


def header(seq: int, count: int = 2, epoch: int = 0, pid: int = PID) -> BatchHeader:
    return BatchHeader.parse(
        make_batch(values(count), producer_id=pid, producer_epoch=epoch, base_sequence=seq)
    )


class Log:
    """Just enough of a log to place batches at increasing offsets."""

    def __init__(self) -> None:
        self.state = ProducerStateManager()
        self.end = 0

    def append(self, h: BatchHeader) -> BatchMetadata | None:
        pending = self.state.begin()
        duplicate = pending.add(h, self.end)
        if duplicate is None:
            pending.commit()
            self.end += h.records_count
        return duplicate


def test_unknown_producer_may_start_at_any_sequence() -> None:
    log = Log()
    assert log.append(header(seq=500)) is None
    assert log.append(header(seq=502)) is None


def test_retry_of_one_of_the_last_five_batches_returns_its_offsets() -> None:
    log = Log()
    for seq in range(0, 12, 2):
        log.append(header(seq))
    assert log.append(header(2)) == BatchMetadata(2, 3, 2, 3)
    assert log.append(header(10)) == BatchMetadata(10, 11, 10, 11)
    assert log.end == 12


def test_retry_older_than_the_last_five_batches_is_out_of_order() -> None:
    log = Log()
    for seq in range(0, 12, 2):
        log.append(header(seq))
    with pytest.raises(OutOfOrderSequenceError):
        log.append(header(0))


def test_sequence_gap_is_out_of_order() -> None:
    log = Log()
    log.append(header(0))
    with pytest.raises(OutOfOrderSequenceError, match="sent sequence 3, expected 2"):
        log.append(header(3))


def test_older_epoch_is_fenced() -> None:
    log = Log()
    log.append(header(0, epoch=5))
    with pytest.raises(InvalidProducerEpochError, match="epoch 4, older than the current 5"):
        log.append(header(2, epoch=4))


def test_newer_epoch_must_restart_at_sequence_zero() -> None:
    log = Log()
    log.append(header(0, epoch=1))
    with pytest.raises(OutOfOrderSequenceError, match="started epoch 2 at sequence 2"):
        log.append(header(2, epoch=2))
    assert log.append(header(0, epoch=2)) is None
    # the old epoch's batches are no longer duplicates: that epoch is fenced
    with pytest.raises(InvalidProducerEpochError):
        log.append(header(0, epoch=1))


def test_sequence_wraps_from_int32_max_to_zero() -> None:
    log = Log()
    log.append(header(2**31 - 2, count=2))  # 2**31-2 .. 2**31-1
    assert log.append(header(0)) is None
    log2 = Log()
    log2.append(header(2**31 - 1, count=3))  # wraps inside the batch: last seq is 1
    assert log2.append(header(2)) is None


def test_batches_of_one_append_are_checked_in_order_and_committed_together() -> None:
    state = ProducerStateManager()
    pending = state.begin()
    assert pending.add(header(0), 0) is None
    assert pending.add(header(2), 2) is None
    with pytest.raises(OutOfOrderSequenceError):
        pending.add(header(5), 4)
    assert state.producers == {}  # nothing committed
    pending.commit()
    assert state.producers[PID].batches[-1] == BatchMetadata(2, 3, 2, 3)


def test_batches_without_producer_id_are_not_tracked() -> None:
    log = Log()
    h = BatchHeader.parse(make_batch(values(2)))
    assert log.append(h) is None and log.append(h) is None
    assert log.state.producers == {}


def test_snapshot_round_trips_and_refuses_corruption() -> None:
    log = Log()
    for seq in range(0, 14, 2):
        log.append(header(seq))
    log.append(header(0, pid=7, epoch=3))
    data = log.state.to_snapshot()
    restored = ProducerStateManager()
    assert restored.load_snapshot(data)
    assert restored.producers == log.state.producers
    assert len(restored.producers[PID].batches) == 5
    for at in (0, 3, len(data) // 2, len(data) - 1):
        broken = bytearray(data)
        broken[at] ^= 0x55
        assert not ProducerStateManager().load_snapshot(bytes(broken))
    assert not ProducerStateManager().load_snapshot(data[:-3])


def test_truncate_head_forgets_producers_whose_batches_are_all_gone() -> None:
    log = Log()
    log.append(header(0, pid=1))
    log.append(header(0, pid=2))
    log.state.truncate_head(2)
    assert set(log.state.producers) == {2}
