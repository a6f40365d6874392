"""The group coordinator the request handlers call: classic groups plus committed offsets.

Everything runs on the broker's one event loop: no locks, and no I/O beyond appending a small
record to `group-offsets.log` (see `offset_store`) before a commit or a new generation is answered.

Waiting: `join_group` waits for the join phase to complete, at most the group's rebalance timeout
(the largest `rebalance_timeout_ms` of its members; a new group first waits
`initial_rebalance_delay_ms`); a follower's `sync_group` waits for the leader's, at most the
rebalance timeout. Everything else answers at once. A waiting call whose task is cancelled (the
client went away) leaves the member joined, as Kafka does; the group moves on at the timeouts.

Timers: `start()` runs a task that calls `tick()` whenever the earliest deadline passes (and at
least every second). With `run_timers=False` nothing runs by itself: tests move an injected clock
and call `tick()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kio.schema.errors import ErrorCode

from headwater.broker.groups.membership import JoinRequest, Membership
from headwater.broker.groups.offset_store import CommittedOffset, OffsetStore, StoreError
from headwater.broker.groups.results import DescribedMember, DescribeResult, JoinResult, SyncResult
from headwater.broker.groups.state import Group, GroupState
from headwater.logs import log_event

log = logging.getLogger(__name__)

#: Kafka's offset.metadata.max.bytes.
MAX_METADATA_CHARS = 4096
_MAX_TIMER_SLEEP_S = 1.0
#: A deadline that stays due (a bug) must not turn the loop into a busy one.
_MIN_TIMER_SLEEP_S = 0.001

T = TypeVar("T")


class GroupCoordinator:
    def __init__(
        self,
        state_dir: Path,
        *,
        initial_rebalance_delay_ms: int = 0,
        min_session_timeout_ms: int = 1000,
        max_session_timeout_ms: int = 1_800_000,
        clock: Callable[[], float] = time.monotonic,
        fsync: bool = False,
        run_timers: bool = True,
        compact_min_superseded: int = 1000,
    ) -> None:
        self._clock = clock
        self._run_timers = run_timers
        self._store = OffsetStore(
            state_dir, fsync=fsync, compact_min_superseded=compact_min_superseded
        )
        self._membership = Membership(
            persist=self._store.append_group,
            initial_rebalance_delay_ms=initial_rebalance_delay_ms,
            min_session_timeout_ms=min_session_timeout_ms,
            max_session_timeout_ms=max_session_timeout_ms,
        )
        self._timer_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- lifecycle

    async def start(self) -> None:
        """Load committed offsets and groups (Stable ones keep their members), start the timers."""
        self._store.open()
        now = self._clock()
        groups = self._membership.groups
        for group_id in self._store.offsets:
            groups[group_id] = Group(group_id)
        for record in self._store.groups.values():
            groups[record.group_id] = Group.from_record(record, now)
        log_event(log, "groups_loaded", groups=len(groups), file=str(self._store.path))
        if self._run_timers:
            self._timer_task = asyncio.create_task(self._run(), name="group-coordinator-timers")

    async def close(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
            self._timer_task = None
        self._membership.shutdown()
        self._store.close()

    def flush(self) -> None:
        """fsync the offsets file (compacting it first when worthwhile); no-op once closed."""
        self._store.flush()

    def tick(self, now: float | None = None) -> None:
        """Fire every timer due at `now` (default: the clock)."""
        self._membership.tick(self._clock() if now is None else now)

    async def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                log_event(log, "group_timers_failed", logging.ERROR, exc_info=True)
            deadline = self._membership.next_deadline()
            delay = _MAX_TIMER_SLEEP_S if deadline is None else deadline - self._clock()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), min(max(delay, _MIN_TIMER_SLEEP_S), _MAX_TIMER_SLEEP_S)
                )

    # -- group membership

    async def join_group(
        self,
        group_id: str,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str,
        protocols: list[tuple[str, bytes]],
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        client_id: str,
        client_host: str,
        api_version: int,
    ) -> JoinResult:
        """JoinGroup; v0 has no rebalance timeout: pass -1 (or the session timeout)."""
        future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        request = JoinRequest(
            member_id=member_id,
            group_instance_id=group_instance_id,
            protocol_type=protocol_type,
            protocols=list(protocols),
            session_timeout_ms=session_timeout_ms,
            rebalance_timeout_ms=(
                rebalance_timeout_ms if rebalance_timeout_ms > 0 else session_timeout_ms
            ),
            client_id=client_id,
            client_host=client_host,
            require_known_member_id=api_version >= 4,
            supports_skip_assignment=api_version >= 9,
            respond=_resolver(future),
        )
        self._membership.join(self._clock(), group_id, request)
        self._wake.set()
        return await future

    async def sync_group(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: list[tuple[str, bytes]],
    ) -> SyncResult:
        """SyncGroup; protocol_type/protocol_name are None below v5."""
        future: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()
        self._membership.sync(
            self._clock(),
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            protocol_type,
            protocol_name,
            assignments,
            _resolver(future),
        )
        self._wake.set()
        return await future

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, group_instance_id: str | None
    ) -> int:
        return self._membership.heartbeat(
            self._clock(), group_id, generation_id, member_id, group_instance_id
        )

    async def leave_group(
        self, group_id: str, members: list[tuple[str, str | None]]
    ) -> tuple[int, list[tuple[str, str | None, int]]]:
        """LeaveGroup in its v3+ batch form; for v0-2 send one member and answer with the
        top-level error if it is not 0, else that member's error."""
        result = self._membership.leave(self._clock(), group_id, members)
        self._wake.set()
        return result

    # -- offsets

    def commit_offsets(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: list[tuple[str, int, int, int, str | None]],
    ) -> list[tuple[str, int, int]]:
        """OffsetCommit: (topic, partition, offset, leader_epoch, metadata) -> (topic, partition,
        error). Generation -1 with member "" is a standalone commit (v0 has neither: pass those).
        The accepted offsets are in the file before this returns."""
        error = self._membership.validate_commit(
            self._clock(), group_id, generation_id, member_id, group_instance_id
        )
        if error:
            return [(t, p, error) for t, p, *_ in offsets]
        errors: list[int] = []
        accepted: list[tuple[str, int, CommittedOffset]] = []
        for topic, partition, offset, leader_epoch, metadata in offsets:
            if metadata is not None and len(metadata) > MAX_METADATA_CHARS:
                errors.append(ErrorCode.offset_metadata_too_large)
            else:
                errors.append(ErrorCode.none)
                accepted.append((topic, partition, CommittedOffset(offset, leader_epoch, metadata)))
        try:
            self._store.append_offsets(group_id, accepted)
        except StoreError as exc:
            log_event(
                log, "offset_commit_not_stored", logging.ERROR, group=group_id, error=str(exc)
            )
            errors = [e or ErrorCode.coordinator_not_available for e in errors]
        return [(t, p, e) for (t, p, *_), e in zip(offsets, errors, strict=True)]

    def fetch_offsets(
        self, group_id: str, partitions: list[tuple[str, int]] | None
    ) -> tuple[int, list[tuple[str, int, int, int, str | None, int]]]:
        """OffsetFetch: (topic, partition, offset or -1, leader_epoch or -1, metadata, error);
        `partitions=None` means every partition the group committed. Unknown groups are no error."""
        committed = self._store.offsets.get(group_id, {})
        if partitions is None:
            partitions = list(committed)
        rows: list[tuple[str, int, int, int, str | None, int]] = []
        for topic, partition in partitions:
            c = committed.get((topic, partition))
            if c is None:
                rows.append((topic, partition, -1, -1, "", ErrorCode.none))
            else:
                rows.append(
                    (topic, partition, c.offset, c.leader_epoch, c.metadata, ErrorCode.none)
                )
        return ErrorCode.none, rows

    def committed_offsets(self) -> dict[str, dict[tuple[str, int], int]]:
        """group -> (topic, partition) -> committed offset (for lag metrics)."""
        return {
            group_id: {tp: c.offset for tp, c in committed.items()}
            for group_id, committed in self._store.offsets.items()
        }

    def delete_topic_offsets(self, topic: str) -> None:
        """Forget every group's offsets for a deleted topic (a recreated topic starts fresh)."""
        try:
            self._store.delete_topic(topic)
        except StoreError as exc:
            log_event(
                log, "topic_offsets_deletion_not_stored", logging.ERROR, topic=topic, error=str(exc)
            )

    def delete_group(self, group_id: str) -> int:
        """DeleteGroups for one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or 0."""
        group = self._membership.groups.get(group_id)
        if group is None:
            return ErrorCode.group_id_not_found
        if group.state is not GroupState.EMPTY:
            return ErrorCode.non_empty_group
        try:
            self._store.delete_group(group_id)
        except StoreError as exc:
            log_event(
                log, "group_deletion_not_stored", logging.ERROR, group=group_id, error=str(exc)
            )
            return ErrorCode.coordinator_not_available
        group.state = GroupState.DEAD
        del self._membership.groups[group_id]
        return ErrorCode.none

    # -- admin

    def list_groups(self) -> list[tuple[str, str, str]]:
        """(group id, protocol type or "", state name) of every known group."""
        return [
            (g.group_id, g.protocol_type or "", g.state.value)
            for g in self._membership.groups.values()
        ]

    def describe_group(self, group_id: str, api_version: int = 0) -> DescribeResult:
        """DescribeGroups for one group; unknown groups are "Dead" (GROUP_ID_NOT_FOUND from v6)."""
        group = self._membership.groups.get(group_id)
        if group is None:
            error = ErrorCode.group_id_not_found if api_version >= 6 else ErrorCode.none
            return DescribeResult(error, group_id, GroupState.DEAD.value, "", "")
        stable = group.state is GroupState.STABLE
        members = tuple(
            DescribedMember(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.metadata(group.protocol_name) if stable else b"",
                m.assignment if stable else b"",
            )
            for m in group.members.values()
        )
        return DescribeResult(
            ErrorCode.none,
            group_id,
            group.state.value,
            group.protocol_type or "",
            (group.protocol_name or "") if stable else "",
            members,
        )


def _resolver(future: asyncio.Future[T]) -> Callable[[T], None]:
    def resolve(result: T) -> None:
        if not future.done():  # cancelled when the waiting request went away
            future.set_result(result)

    return resolve
