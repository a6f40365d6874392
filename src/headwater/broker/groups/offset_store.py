"""Committed offsets and group metadata on disk: `<state_dir>/group-offsets.log`.

Format: an append-only sequence of records, each

    length   u32 big-endian   bytes in payload
    crc      u32 big-endian   CRC-32C (Castagnoli) of payload
    payload  JSON object (UTF-8), one of
        {"type": "offsets", "group": g,
         "offsets": [[topic, partition, offset, leader_epoch, metadata], ...]}
        {"type": "group", "group": g, "protocol_type": s|null, "protocol": s|null, "generation": n,
         "leader": s|null, "members": [{"id", "instance", "client_id", "client_host",
         "session_timeout_ms", "rebalance_timeout_ms", "subscription", "assignment"}, ...]}
        {"type": "delete_topic", "topic": t}       (drops that topic's offsets in every group)
        {"type": "delete_group", "group": g}       (drops the group and its offsets)

`subscription` and `assignment` are base64; `metadata` is kept exactly, null included. Records are
applied in file order, a later value replacing an earlier one. One OffsetCommit is one record, so
it is applied whole or not at all. Unknown record types are skipped (newer writers).

Durability: every record is written with `os.write` (so it sits in the page cache) before the
request it records is answered; that survives kill -9 of the broker. It survives power loss only
once fsynced: after each record with `fsync=True`, else whenever `flush()` runs. A failed append
is cut off again (ftruncate), so a later record never follows a partial one; if even that fails the
store refuses further appends until restart.

Crash behaviour: on open the file is read record by record; the first record with a short header,
a short payload, a CRC mismatch or unparsable JSON ends the valid prefix (a crash can only tear the
tail of an append-only file); everything after it is dropped and the file is rewritten. The file
is also rewritten (compacted) when it holds `compact_min_superseded` or more records that later
ones replaced: the latest values go to `group-offsets.log.tmp`, which is fsynced and renamed over
the log, so a crash leaves the old or the new file. Compaction runs on open and from `flush()`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crc32c
import orjson

from headwater.broker.log.files import TMP_SUFFIX, read_file, write_all, write_atomically
from headwater.logs import log_event

log = logging.getLogger(__name__)

FILE_NAME = "group-offsets.log"
_HEADER = struct.Struct(">II")
#: A length beyond this is garbage, not a record (a commit of 100k partitions is ~10 MB).
_MAX_RECORD_BYTES = 64 * 1024 * 1024


class StoreError(Exception):
    """A record could not be written; nothing of it will be read back."""


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str | None


@dataclass(frozen=True, slots=True)
class MemberRecord:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    #: The member's metadata for the group's protocol.
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group as last persisted; members only while it is Stable (restored as Stable)."""

    group_id: str
    protocol_type: str | None
    protocol_name: str | None
    generation_id: int
    leader_id: str | None
    members: tuple[MemberRecord, ...] = ()


class OffsetStore:
    """The latest committed offsets and group records, mirrored in an append-only file."""

    def __init__(self, state_dir: Path, *, fsync: bool = False, compact_min_superseded: int = 1000):
        self.path = state_dir / FILE_NAME
        self.offsets: dict[str, dict[tuple[str, int], CommittedOffset]] = {}
        self.groups: dict[str, GroupRecord] = {}
        self._fsync = fsync
        self._compact_min_superseded = compact_min_superseded
        self._fd: int | None = None
        self._size = 0
        self._records = 0
        self._unsynced = False
        self._broken = False

    # -- lifecycle

    def open(self) -> None:
        """Load the file (dropping a torn tail), compact it when worthwhile, open it for appends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.with_name(self.path.name + TMP_SUFFIX).unlink()
        data = read_file(self.path) or b""
        valid = self._load(data)
        if valid < len(data):
            log_event(
                log,
                "group_offsets_torn_tail_dropped",
                logging.WARNING,
                file=str(self.path),
                position=valid,
                bytes_cut=len(data) - valid,
            )
        if valid < len(data) or self._superseded() >= self._compact_min_superseded:
            try:
                self._compact()
                return
            except OSError as exc:
                log_event(log, "group_offsets_compaction_failed", logging.WARNING, error=str(exc))
                if valid < len(data):
                    os.truncate(self.path, valid)
        self._open_for_append()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.flush()
            os.close(self._fd)
            self._fd = None

    def flush(self) -> None:
        """fsync what was appended; compact first when enough records were superseded."""
        if self._fd is None:
            return
        if self._superseded() >= self._compact_min_superseded and not self._broken:
            try:
                self._compact()  # the compacted file is fsynced as it is written
                return
            except OSError as exc:
                log_event(log, "group_offsets_compaction_failed", logging.WARNING, error=str(exc))
        if self._unsynced:  # an fsync with nothing to sync still costs a journal commit
            self._unsynced = False
            os.fsync(self._fd)

    # -- writes (each returns only once the record is in the file)

    def append_offsets(
        self, group_id: str, entries: list[tuple[str, int, CommittedOffset]]
    ) -> None:
        if not entries:
            return
        rows = [[t, p, c.offset, c.leader_epoch, c.metadata] for t, p, c in entries]
        self._append({"type": "offsets", "group": group_id, "offsets": rows})
        committed = self.offsets.setdefault(group_id, {})
        for topic, partition, value in entries:
            committed[(topic, partition)] = value

    def append_group(self, record: GroupRecord) -> None:
        self._append(_group_payload(record))
        self.groups[record.group_id] = record

    def delete_topic(self, topic: str) -> None:
        if not any(t == topic for committed in self.offsets.values() for t, _ in committed):
            return
        self._append({"type": "delete_topic", "topic": topic})
        self._apply_delete_topic(topic)

    def delete_group(self, group_id: str) -> None:
        if group_id not in self.offsets and group_id not in self.groups:
            return
        self._append({"type": "delete_group", "group": group_id})
        self.offsets.pop(group_id, None)
        self.groups.pop(group_id, None)

    # -- internals

    def _append(self, payload: dict[str, Any]) -> None:
        if self._fd is None or self._broken:
            raise StoreError(f"{self.path} is not open for appends")
        try:
            record = _frame(orjson.dumps(payload))
        except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
            raise StoreError(f"cannot encode record: {exc}") from exc
        try:
            write_all(self._fd, record)
            if self._fsync:
                os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                self._broken = True
                log_event(log, "group_offsets_append_disabled", logging.ERROR, file=str(self.path))
            raise StoreError(f"cannot append to {self.path}: {exc}") from exc
        self._size += len(record)
        self._records += 1
        self._unsynced = not self._fsync

    def _load(self, data: bytes) -> int:
        """Apply every valid record; the length of the valid prefix."""
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if length > _MAX_RECORD_BYTES or end > len(data):
                break
            payload = data[pos + _HEADER.size : end]
            if crc32c.crc32c(payload) != crc:
                break
            try:
                self._apply(orjson.loads(payload))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                break
            pos = end
            self._records += 1
        return pos

    def _apply(self, rec: dict[str, Any]) -> None:
        kind = rec["type"]
        if kind == "offsets":
            rows = {
                (str(topic), int(partition)): CommittedOffset(int(offset), int(epoch), metadata)
                for topic, partition, offset, epoch, metadata in rec["offsets"]
            }
            self.offsets.setdefault(rec["group"], {}).update(rows)
        elif kind == "group":
            record = _group_from_payload(rec)
            self.groups[record.group_id] = record
        elif kind == "delete_topic":
            self._apply_delete_topic(rec["topic"])
        elif kind == "delete_group":
            self.offsets.pop(rec["group"], None)
            self.groups.pop(rec["group"], None)

    def _apply_delete_topic(self, topic: str) -> None:
        for group_id in list(self.offsets):
            committed = self.offsets[group_id]
            for key in [k for k in committed if k[0] == topic]:
                del committed[key]
            if not committed:
                del self.offsets[group_id]

    def _live_records(self) -> list[dict[str, Any]]:
        live = [_group_payload(record) for record in self.groups.values()]
        for group_id, committed in self.offsets.items():
            rows = [[t, p, c.offset, c.leader_epoch, c.metadata] for (t, p), c in committed.items()]
            live.append({"type": "offsets", "group": group_id, "offsets": rows})
        return live

    def _superseded(self) -> int:
        return self._records - len(self.groups) - len(self.offsets)

    def _compact(self) -> None:
        live = self._live_records()
        data = b"".join(_frame(orjson.dumps(payload)) for payload in live)
        write_atomically(self.path, data, durable=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._open_for_append()
        self._records = len(live)
        log_event(log, "group_offsets_compacted", records=len(live), bytes=len(data))

    def _open_for_append(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size
        self._broken = False


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _group_payload(record: GroupRecord) -> dict[str, Any]:
    return {
        "type": "group",
        "group": record.group_id,
        "protocol_type": record.protocol_type,
        "protocol": record.protocol_name,
        "generation": record.generation_id,
        "leader": record.leader_id,
        "members": [
            {
                "id": m.member_id,
                "instance": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "session_timeout_ms": m.session_timeout_ms,
                "rebalance_timeout_ms": m.rebalance_timeout_ms,
                "subscription": _b64(m.subscription),
                "assignment": _b64(m.assignment),
            }
            for m in record.members
        ],
    }


def _group_from_payload(rec: dict[str, Any]) -> GroupRecord:
    members = tuple(
        MemberRecord(
            member_id=m["id"],
            group_instance_id=m["instance"],
            client_id=m["client_id"],
            client_host=m["client_host"],
            session_timeout_ms=int(m["session_timeout_ms"]),
            rebalance_timeout_ms=int(m["rebalance_timeout_ms"]),
            subscription=base64.b64decode(m["subscription"], validate=True),
            assignment=base64.b64decode(m["assignment"], validate=True),
        )
        for m in rec["members"]
    )
    return GroupRecord(
        group_id=rec["group"],
        protocol_type=rec["protocol_type"],
        protocol_name=rec["protocol"],
        generation_id=int(rec["generation"]),
        leader_id=rec["leader"],
        members=members,
    )
