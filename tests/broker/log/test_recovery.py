"""Crash recovery: torn tails, garbage, lost or broken indexes, failing writes (SQLite style)."""

from __future__ import annotations

import errno
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from headwater.broker.log import (
    LogConfig,
    LogError,
    LogManager,
    PartitionLog,
    iter_batches,
)
from headwater.broker.log.loader import CLEAN_SHUTDOWN_FILE
from headwater.broker.log.segment import LogSegment

from .batches import make_batch, rebase, values
from .conftest import OpenLog, abandon, record_calls


def stored(log: PartitionLog) -> list[tuple[int, bytes]]:
    """(base offset, batch bytes) of everything in the log, read back batch by batch."""
    out: list[tuple[int, bytes]] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 1 << 20)
        for pos, header in iter_batches(data):
            out.append((header.base_offset, data[pos : pos + header.size]))
            offset = header.last_offset + 1
    return out


def fill(log: PartitionLog, count: int, seed: int = 0) -> list[tuple[int, bytes]]:
    rng = random.Random(seed)
    written = []
    for i in range(count):
        batch = make_batch(
            values(rng.randint(1, 4), size=rng.randint(1, 60), tag=f"{seed}-{i}"),
            timestamp=1000 + i,
        )
        written.append((log.append(batch, now_ms=0).base_offset, rebase(batch, 0)))
    return [(base, rebase(batch, base)) for base, batch in written]


def test_every_cut_point_in_the_last_batch_recovers_to_the_one_before(
    open_log: OpenLog, caplog: pytest.LogCaptureFixture
) -> None:
    log = open_log(index_interval_bytes=50)
    written = fill(log, 8)
    abandon(log)
    path = log.segments[-1].log_path
    whole = path.read_bytes()
    last_base, last_batch = written[-1]
    start = len(whole) - len(last_batch)
    for cut in range(start, len(whole)):
        path.write_bytes(whole[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="headwater.broker.log"):
            log = open_log(index_interval_bytes=50)
        assert log.log_end_offset == last_base
        assert stored(log) == written[:-1]
        if cut > start:
            (record,) = caplog.records
            assert record.fields["position"] == start  # type: ignore[attr-defined]
            assert record.fields["bytes_cut"] == cut - start  # type: ignore[attr-defined]
        batch = make_batch(values(2))
        assert log.append(batch, now_ms=0).base_offset == last_base
        assert stored(log)[-1] == (last_base, rebase(batch, last_base))
        abandon(log)


@pytest.mark.parametrize("seed", range(25))
def test_garbage_from_a_random_offset_recovers_to_the_last_valid_batch(
    open_log: OpenLog, seed: int
) -> None:
    """Kafka's testRecoveryWithCorruptMessage: random bytes from a random position to the end."""
    rng = random.Random(seed)
    log = open_log(segment_bytes=1500, index_interval_bytes=100)
    written = fill(log, 40, seed)
    abandon(log)
    path = log.segments[-1].log_path
    segment_base = log.segments[-1].base_offset
    whole = path.read_bytes()
    at = rng.randrange(len(whole))
    garbage = rng.randbytes(rng.randint(1, 2 * (len(whole) - at) + 10))
    path.write_bytes(whole[:at] + garbage)
    first_change = next(
        (i for i, (a, b) in enumerate(zip(whole[at:], garbage, strict=False)) if a != b), 0
    )
    changed_at = at + first_change
    log = open_log(segment_bytes=1500, index_interval_bytes=100)
    expected, position = [], 0
    for base, batch in written:
        if base >= segment_base:
            if position + len(batch) > changed_at:
                break
            position += len(batch)
        expected.append((base, batch))
    assert stored(log) == expected
    end = expected[-1][0] + records_in(expected[-1][1]) if expected else 0
    assert log.log_end_offset == end
    assert log.append(make_batch(values(1)), now_ms=0).base_offset == end


def records_in(batch: bytes) -> int:
    ((_, header),) = iter_batches(batch)
    return header.records_count


def index_files(directory: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.suffix in (".index", ".timeindex")
    }


@pytest.mark.parametrize("damage", ["delete", "garbage", "odd-size", "truncate-half"])
def test_indexes_are_rebuilt_when_missing_or_inconsistent(open_log: OpenLog, damage: str) -> None:
    config = {"segment_bytes": 2000, "index_interval_bytes": 64}
    log = open_log(**config)
    written = fill(log, 60)
    log.close()
    originals = index_files(log.directory)
    assert len(originals) >= 6 and all(originals.values())
    rng = random.Random(1)
    for name, content in originals.items():
        path = log.directory / name
        if damage == "delete":
            path.unlink()
        elif damage == "garbage":
            path.write_bytes(rng.randbytes(len(content)))
        elif damage == "odd-size":
            path.write_bytes(content + b"\x00")
        else:
            path.write_bytes(content[: len(content) // 2])
    log = open_log(**config)
    assert stored(log) == written
    for base, batch in written:  # every offset finds its batch through the rebuilt indexes
        assert log.read(base, 1) == batch
    assert log.offset_for_timestamp(1030) == (written[30][0], 1030)
    log.close()
    assert index_files(log.directory) == originals


def test_clean_shutdown_is_trusted_and_the_marker_is_consumed(
    open_log: OpenLog, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(segment_bytes=1000)
    written = fill(log, 30)
    log.close()
    marker = log.directory / CLEAN_SHUTDOWN_FILE
    assert marker.exists()
    recovered = record_calls(monkeypatch, LogSegment, "recover", lambda seg, _: seg.base_offset)
    with caplog.at_level(logging.WARNING, logger="headwater.broker.log"):
        log = open_log(segment_bytes=1000)
    assert recovered == [] and caplog.records == []
    assert not marker.exists()  # a crash from now on is recognised as one
    assert stored(log) == written


@pytest.mark.parametrize("damage", ["truncate", "flip-a-byte", "append-zeros"])
def test_tail_damaged_after_a_clean_shutdown_is_still_cut(open_log: OpenLog, damage: str) -> None:
    """Clean shutdown or not, the end of the active segment is verified on open."""
    log = open_log(index_interval_bytes=0)  # every batch indexed: the tail check must CRC
    written = fill(log, 5)
    log.close()
    path = log.segments[-1].log_path
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[-3:]
    elif damage == "flip-a-byte":
        data[-len(written[-1][1]) // 2] ^= 0x01
    else:
        data += bytes(4096)
    path.write_bytes(data)
    log = open_log(index_interval_bytes=0)
    assert stored(log) == (written if damage == "append-zeros" else written[:-1])
    assert log.append(make_batch(values(1)), now_ms=0).base_offset == log.log_end_offset - 1


def test_crash_recovers_segments_from_the_recovery_point_only(
    open_log: OpenLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(segment_bytes=500)
    fill(log, 30)
    log.flush()  # every segment so far is on disk: the recovery point moves to the active one
    flushed_active = log.segments[-1].base_offset
    fill(log, 8, seed=1)
    abandon(log)
    bases = [s.base_offset for s in log.segments]
    assert (log.directory / "recovery-point").read_text() == f"{flushed_active}\n"
    recovered = record_calls(monkeypatch, LogSegment, "recover", lambda seg, _: seg.base_offset)
    open_log(segment_bytes=500)
    assert bases.index(flushed_active) > 2
    assert recovered == bases[bases.index(flushed_active) :]


def test_corruption_in_an_unflushed_middle_segment_drops_everything_after_it(
    open_log: OpenLog,
) -> None:
    log = open_log(segment_bytes=500)
    written = fill(log, 30)
    abandon(log)  # never flushed: every segment is recovered
    names = sorted(p.name for p in log.directory.glob("*.log"))
    second = log.segments[1]
    content = bytearray(second.log_path.read_bytes())
    content[100] ^= 0xFF
    second.log_path.write_bytes(content)
    position, survivors = 0, [base for base, _ in written if base < second.base_offset]
    for base, batch in written[len(survivors) :]:
        if position + len(batch) > 100:
            break
        survivors.append(base)
        position += len(batch)
    log = open_log(segment_bytes=500)
    assert stored(log) == written[: len(survivors)]
    assert sorted(p.name for p in log.directory.glob("*.log")) == names[:2]
    assert log.append(make_batch(values(1)), now_ms=0).base_offset == written[len(survivors)][0]


# -- the SQLite-style I/O error loop --------------------------------------------------------


@dataclass
class Ledger:
    """What the workload was told succeeded: it must be exactly what a reopen finds."""

    topics: set[str] = field(default_factory=set)
    acked: dict[int, list[tuple[int, bytes]]] = field(default_factory=lambda: {0: [], 1: []})
    unacked: dict[int, list[tuple[int, bytes]]] = field(default_factory=lambda: {0: [], 1: []})


CONFIG = LogConfig(segment_bytes=700, index_interval_bytes=64)


def workload(data_dir: Path, ledger: Ledger, *, keep_going: bool) -> LogManager | None:
    """Create a topic, append (rolling segments), flush, append idempotently, close.

    With keep_going, a failed step is retried or skipped, as a client would; otherwise the first
    failure ends the run (the process "dies" and the manager is abandoned).
    """
    manager = LogManager(data_dir, CONFIG)

    def attempt(action: Callable[[], object]) -> bool:
        try:
            action()
            return True
        except LogError:
            if not keep_going:
                raise
            return False

    for _retry in range(3):
        if attempt(lambda: manager.create_topic("t", 2)):
            ledger.topics.add("t")
            break
    else:
        return manager
    sequences = {0: 0, 1: 0}
    for i in range(14):
        partition, count = i % 2, 1 + i % 3
        idempotent = i >= 8  # a producer that retries a failed batch, like librdkafka
        batch = make_batch(
            values(count, size=40, tag=f"r{i}"),
            timestamp=1000 + i,
            producer_id=5 if idempotent else -1,
            producer_epoch=0 if idempotent else -1,
            base_sequence=sequences[partition] if idempotent else -1,
        )
        if idempotent:
            sequences[partition] += count
        log = manager.get("t", partition)
        assert log is not None
        for _retry in range(3 if idempotent else 1):
            base = log.log_end_offset
            try:
                result = log.append(batch, now_ms=i)
            except LogError:
                ledger.unacked[partition].append((base, rebase(batch, base)))
                if not keep_going:
                    raise
                continue
            if not result.duplicate:
                ledger.acked[partition].append(
                    (result.base_offset, rebase(batch, result.base_offset))
                )
            break
        if i == 6:
            attempt(manager.flush_all)
    attempt(manager.close)
    return manager


def check_reopens_consistent(data_dir: Path, ledger: Ledger, *, may_keep_unacked: bool) -> None:
    manager = LogManager(data_dir, CONFIG)
    try:
        assert set(manager.topics) == ledger.topics
        for partition in (0, 1) if ledger.topics else ():
            log = manager.get("t", partition)
            assert log is not None
            found = stored(log)
            acked = ledger.acked[partition]
            if may_keep_unacked and found != acked:
                # a write that could not be undone may survive whole, never in part
                assert found[: len(acked)] == acked
                assert found[len(acked) :] == ledger.unacked[partition][: len(found) - len(acked)]
            else:
                assert found == acked
            batch = make_batch(values(1))
            assert log.append(batch, now_ms=99).base_offset == log.log_end_offset - 1
    finally:
        manager.close()


@dataclass
class WriteFault:
    """Fails the nth os.write (tearing it first if asked) and, if asked, every later ftruncate."""

    n: int
    tear: bool = False
    calls: int = 0
    fired: bool = False

    def write(self, fd: int, data: bytes) -> int:
        self.calls += 1
        if self.calls == self.n:
            self.fired = True
            if self.tear:
                REAL_WRITE(fd, bytes(data)[: max(1, len(data) // 2)])
            raise OSError(errno.EIO, "injected write failure")
        return REAL_WRITE(fd, data)

    def ftruncate(self, fd: int, length: int) -> None:
        if self.fired:
            raise OSError(errno.EIO, "injected truncate failure")
        REAL_FTRUNCATE(fd, length)


REAL_WRITE, REAL_FTRUNCATE = os.write, os.ftruncate


def count_writes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    fault = WriteFault(n=-1)
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", fault.write)
        workload(data_dir, Ledger(), keep_going=False)
    return fault.calls


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """These loops simulate process crashes, where fsync changes nothing; skip it for speed."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    monkeypatch.setattr(os, "fdatasync", lambda fd: None)


@pytest.mark.usefixtures("no_fsync")
@pytest.mark.parametrize(
    "mode", ["fail-then-crash", "tear-then-crash", "fail-once", "fail-and-no-undo"]
)
def test_nth_write_failing_always_leaves_a_consistent_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """For N = 1, 2, ...: the Nth os.write fails; then the process dies (crash modes) or carries
    on (fail-once; fail-and-no-undo, where ftruncate cannot undo anything either). A reopen must
    find exactly the acknowledged appends and accept new ones at the next offset."""
    total = count_writes(tmp_path / "count", monkeypatch)
    assert total > 30  # topics.json, appends, index entries, snapshots, recovery point, close
    keep_going = mode in ("fail-once", "fail-and-no-undo")
    for n in range(1, total + 1):
        fault = WriteFault(n, tear=mode == "tear-then-crash")
        data_dir, ledger, manager = tmp_path / f"n{n}", Ledger(), None
        with monkeypatch.context() as patch:
            patch.setattr(os, "write", fault.write)
            if mode == "fail-and-no-undo":
                patch.setattr(os, "ftruncate", fault.ftruncate)
            try:
                manager = workload(data_dir, ledger, keep_going=keep_going)
            except LogError:
                assert not keep_going
        assert fault.fired, f"write {n} of {total} was never reached"
        if manager is not None:  # whatever state it is in, drop it without another write
            for topic in manager.topics.values():
                for log in topic.partitions:
                    abandon(log)
        check_reopens_consistent(data_dir, ledger, may_keep_unacked=mode == "fail-and-no-undo")
