"""group-offsets.log: byte layout, torn tails, failed writes and compaction."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import crc32c
import orjson
import pytest

from headwater.broker.groups import offset_store
from headwater.broker.groups.offset_store import (
    CommittedOffset,
    GroupRecord,
    MemberRecord,
    OffsetStore,
    StoreError,
)


def opened(state_dir: Path, **kwargs: Any) -> OffsetStore:
    store = OffsetStore(state_dir, **kwargs)
    store.open()
    return store


def commit(
    store: OffsetStore, group: str, partition: int, offset: int, md: str | None = None
) -> None:
    store.append_offsets(group, [("t", partition, CommittedOffset(offset, -1, md))])


def records(state_dir: Path) -> list[dict[str, Any]]:
    data = (state_dir / "group-offsets.log").read_bytes()
    found, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        found.append(orjson.loads(data[pos + 8 : pos + 8 + length]))
        pos += 8 + length
    return found


GROUP = GroupRecord(
    group_id="g",
    protocol_type="consumer",
    protocol_name="range",
    generation_id=4,
    leader_id="m1",
    members=(MemberRecord("m1", None, "c", "/h", 10_000, 30_000, b"\x00sub", b"\xffassign"),),
)


def test_records_are_length_crc_and_json(tmp_path: Path) -> None:
    store = opened(tmp_path)
    commit(store, "g", 0, 5, "m")
    store.close()
    data = (tmp_path / "group-offsets.log").read_bytes()
    length, crc = struct.unpack(">II", data[:8])
    payload = data[8:]
    assert (length, crc) == (len(payload), crc32c.crc32c(payload))
    assert orjson.loads(payload) == {
        "type": "offsets",
        "group": "g",
        "offsets": [["t", 0, 5, -1, "m"]],
    }


def test_everything_reads_back(tmp_path: Path) -> None:
    store = opened(tmp_path)
    commit(store, "g", 0, 5, None)
    commit(store, "g", 1, 6, "")
    commit(store, "g", 0, 9, "ünï")
    store.append_group(GROUP)
    store.close()
    again = opened(tmp_path)
    assert again.offsets == {
        "g": {("t", 0): CommittedOffset(9, -1, "ünï"), ("t", 1): CommittedOffset(6, -1, "")}
    }
    assert again.groups == {"g": GROUP}


@pytest.mark.parametrize("cut", [1, 4, 8, 9, 20])
def test_a_torn_last_record_is_dropped_and_cut_off(tmp_path: Path, cut: int) -> None:
    store = opened(tmp_path)
    commit(store, "g", 0, 1)
    commit(store, "g", 0, 2)
    store.close()
    path = tmp_path / "group-offsets.log"
    os.truncate(path, path.stat().st_size - cut)

    again = opened(tmp_path)
    assert again.offsets["g"][("t", 0)].offset == 1
    commit(again, "g", 0, 3)  # appended after the valid prefix, not after garbage
    again.close()
    assert opened(tmp_path).offsets["g"][("t", 0)].offset == 3


def test_a_corrupt_tail_ends_the_valid_prefix(tmp_path: Path) -> None:
    store = opened(tmp_path)
    commit(store, "g", 0, 1)
    commit(store, "g", 0, 2)
    store.close()
    path = tmp_path / "group-offsets.log"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte in the last payload: CRC mismatch
    path.write_bytes(bytes(data) + b"\x00" * 100)  # and zeroed pages after it
    assert opened(tmp_path).offsets["g"][("t", 0)].offset == 1


def test_garbage_lengths_are_not_records(tmp_path: Path) -> None:
    path = tmp_path / "group-offsets.log"
    tmp_path.mkdir(exist_ok=True)
    path.write_bytes(b"\xff\xff\xff\xff\x00\x00\x00\x00garbage")
    store = opened(tmp_path)
    assert store.offsets == {}
    assert path.stat().st_size == 0


def test_compaction_keeps_the_latest_values(tmp_path: Path) -> None:
    store = opened(tmp_path, compact_min_superseded=10)
    for offset in range(50):
        commit(store, "g", offset % 2, offset, f"md{offset}")
    store.append_group(GROUP)
    store.append_group(GROUP)
    commit(store, "h", 0, 1)
    store.close()  # close flushes, flush compacts
    assert len(records(tmp_path)) == 3  # one group, one offsets record per group
    again = opened(tmp_path, compact_min_superseded=10)
    assert again.offsets == {
        "g": {("t", 0): CommittedOffset(48, -1, "md48"), ("t", 1): CommittedOffset(49, -1, "md49")},
        "h": {("t", 0): CommittedOffset(1, -1, None)},
    }
    assert again.groups == {"g": GROUP}
    assert not (tmp_path / "group-offsets.log.tmp").exists()


def test_compaction_on_open(tmp_path: Path) -> None:
    store = opened(tmp_path, compact_min_superseded=1_000_000)
    for offset in range(30):
        commit(store, "g", 0, offset)
    store.close()
    big = (tmp_path / "group-offsets.log").stat().st_size
    again = opened(tmp_path, compact_min_superseded=10)
    assert (tmp_path / "group-offsets.log").stat().st_size < big / 10
    assert again.offsets["g"][("t", 0)].offset == 29


def test_a_stray_temp_file_from_a_crashed_compaction_is_ignored(tmp_path: Path) -> None:
    store = opened(tmp_path)
    commit(store, "g", 0, 1)
    store.close()
    (tmp_path / "group-offsets.log.tmp").write_bytes(b"half a compaction")
    assert opened(tmp_path).offsets["g"][("t", 0)].offset == 1
    assert not (tmp_path / "group-offsets.log.tmp").exists()


def test_deletions_are_records_too(tmp_path: Path) -> None:
    store = opened(tmp_path)
    commit(store, "a", 0, 1)
    store.append_offsets("a", [("u", 0, CommittedOffset(2, -1, None))])
    commit(store, "b", 0, 1)
    store.append_group(GROUP)
    store.delete_topic("t")
    store.delete_group("g")
    store.close()
    again = opened(tmp_path)
    assert again.offsets == {"a": {("u", 0): CommittedOffset(2, -1, None)}}
    assert again.groups == {}


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failed_append_is_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """The Nth os.write of an append fails after writing part of the record."""
    store = opened(tmp_path)
    commit(store, "g", 0, 1)
    calls = 0
    real_write = os.write

    def flaky_write(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data)[:7])  # short writes until then

    monkeypatch.setattr(os, "write", flaky_write)
    with pytest.raises(StoreError):
        commit(store, "g", 0, 2)
    monkeypatch.undo()
    assert store.offsets["g"][("t", 0)].offset == 1  # not applied in memory either
    commit(store, "g", 0, 3)
    store.close()
    assert opened(tmp_path).offsets["g"][("t", 0)].offset == 3


def test_unencodable_strings_are_refused_before_writing(tmp_path: Path) -> None:
    store = opened(tmp_path)
    with pytest.raises(StoreError):
        commit(store, "g", 0, 1, "\ud800")
    commit(store, "g", 0, 2)
    store.close()
    assert opened(tmp_path).offsets["g"][("t", 0)].offset == 2


def test_fsync_after_each_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    store = opened(tmp_path, fsync=True)
    monkeypatch.setattr(offset_store.os, "fsync", synced.append)
    commit(store, "g", 0, 1)
    commit(store, "g", 0, 2)
    assert len(synced) == 2
