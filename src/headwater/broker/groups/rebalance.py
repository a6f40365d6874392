"""The rebalance lifecycle of Kafka's classic groups: join phase, generations, timers.

Sans-IO and synchronous, following Kafka's GroupCoordinator: time comes in as `now` (clock
seconds), answers go out through the callbacks members hold, and the group record is handed to
`persist` at the points Kafka writes it. `tick(now)` runs every timer: session expiry, the join
phase's rebalance timeout and initial delay, pending-member and pending-sync expiry.

Rules:
1. The join phase completes when every member rejoined and no MEMBER_ID_REQUIRED id is pending
   (never early during a new group's initial delay), else at the rebalance timeout, removing
   dynamic members that did not rejoin.
2. A member waiting in JoinGroup or SyncGroup is never expired (a new member after 5 minutes).
3. Members that never send SyncGroup are removed after the rebalance timeout, which starts a new
   rebalance and answers the waiting SyncGroups REBALANCE_IN_PROGRESS.
4. Every new generation is persisted before it is announced, so it never repeats after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from kio.schema.errors import ErrorCode

from headwater.broker.groups.offset_store import GroupRecord, StoreError
from headwater.broker.groups.results import JoinResult, SyncResult
from headwater.broker.groups.state import Group, GroupState, Member
from headwater.logs import log_event

log = logging.getLogger(__name__)

#: Kafka's NewMemberJoinTimeoutMs: a new member waiting this long in JoinGroup is removed.
NEW_MEMBER_JOIN_TIMEOUT_S = 300.0

EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD


class Rebalancer:
    """Every group, and the moves between generations that requests and timers cause."""

    def __init__(
        self, *, persist: Callable[[GroupRecord], None], initial_rebalance_delay_ms: int = 0
    ) -> None:
        self.groups: dict[str, Group] = {}
        self._persist_record = persist
        self._initial_delay_ms = initial_rebalance_delay_ms

    def _maybe_prepare_rebalance(self, now: float, group: Group, reason: str) -> None:
        if group.can_rebalance():
            self._prepare_rebalance(now, group, reason)

    def _prepare_rebalance(self, now: float, group: Group, reason: str) -> None:
        if group.state is COMPLETING:
            self._reset_assignments(now, group, ErrorCode.rebalance_in_progress)
        group.pending_sync.clear()
        group.sync_deadline = None
        if group.state is EMPTY:
            group.in_initial_delay = True
            group.new_member_added = False
            delay_ms = self._initial_delay_ms
            group.initial_delay_remaining_ms = max(group.rebalance_timeout_ms - delay_ms, 0)
            group.join_deadline = now + delay_ms / 1000
        else:
            group.in_initial_delay = False
            group.join_deadline = now + group.rebalance_timeout_ms / 1000
        log_event(
            log,
            "group_rebalancing",
            group=group.group_id,
            state=group.state.value,
            generation=group.generation_id,
            reason=reason,
        )
        group.transition(PREPARING)
        self._try_complete_join(now, group)

    def _try_complete_join(self, now: float, group: Group) -> None:
        if group.state is PREPARING and not group.in_initial_delay and group.all_members_joined():
            self._complete_join(now, group)

    def _expire_join(self, now: float, group: Group) -> None:
        remaining = group.initial_delay_remaining_ms
        if (
            group.in_initial_delay
            and group.new_member_added
            and remaining > 0
            and self._initial_delay_ms > 0
        ):
            delay_ms = min(self._initial_delay_ms, remaining)
            group.initial_delay_remaining_ms = remaining - delay_ms
            group.new_member_added = False
            group.join_deadline = now + delay_ms / 1000
        else:
            self._complete_join(now, group)

    def _complete_join(self, now: float, group: Group) -> None:
        group.join_deadline = None
        group.in_initial_delay = False
        for member in [m for m in group.members.values() if not m.awaiting_join]:
            if member.group_instance_id is None:
                group.remove(member.member_id)
                member.answer_sync(SyncResult.failed(ErrorCode.unknown_member_id))
        if not group.elect_joined_leader() and group.members:
            # Only static members that did not rejoin are left: wait for them (or their expiry).
            group.join_deadline = now + group.rebalance_timeout_ms / 1000
            return
        group.generation_id += 1
        if not group.members:
            group.protocol_name = None
            group.transition(EMPTY)
            self._persist(group, with_members=False)
            log_event(log, "group_empty", group=group.group_id, generation=group.generation_id)
            return
        group.protocol_name = group.select_protocol()
        group.transition(COMPLETING)
        # The generation is written now so it never repeats after a restart; the members are
        # written with their assignment once the leader's SyncGroup brings it.
        self._persist(group, with_members=False)
        log_event(
            log,
            "group_generation",
            group=group.group_id,
            generation=group.generation_id,
            members=len(group.members),
            protocol=group.protocol_name,
            leader=group.leader_id,
        )
        metadata = group.current_member_metadata()
        for member in group.members.values():
            is_leader = group.is_leader(member.member_id)
            result = group.current_generation(member.member_id, with_members=False)
            member.answer_join(replace(result, members=metadata) if is_leader else result)
            member.session_deadline = now + member.session_timeout_ms / 1000
            member.is_new = False
            group.pending_sync.add(member.member_id)
        group.sync_deadline = now + group.rebalance_timeout_ms / 1000

    def _reset_assignments(self, now: float, group: Group, error: int) -> None:
        for member in group.members.values():
            member.assignment = b""
            if member.awaiting_sync:
                member.session_deadline = now + member.session_timeout_ms / 1000
                member.answer_sync(SyncResult.failed(error))

    def _remove_member(self, now: float, group: Group, member: Member, reason: str) -> None:
        log_event(
            log,
            "group_member_removed",
            group=group.group_id,
            member=member.member_id,
            reason=reason,
        )
        member.answer_join(JoinResult.failed(ErrorCode.unknown_member_id))
        member.answer_sync(SyncResult.failed(ErrorCode.unknown_member_id))
        group.remove(member.member_id)
        if group.state in (STABLE, COMPLETING):
            self._maybe_prepare_rebalance(now, group, f"member {member.member_id} {reason}")
        else:
            self._try_complete_join(now, group)

    def _persist(self, group: Group, *, with_members: bool) -> bool:
        try:
            self._persist_record(group.to_record(with_members=with_members))
            return True
        except StoreError as exc:
            log_event(
                log,
                "group_not_stored",
                logging.ERROR,
                group=group.group_id,
                generation=group.generation_id,
                error=str(exc),
            )
            return False

    # -- timers

    def tick(self, now: float) -> None:
        """Fire every timer due at `now`."""
        for group in list(self.groups.values()):
            for member_id, deadline in list(group.pending_members.items()):
                if deadline <= now:
                    del group.pending_members[member_id]
                    self._try_complete_join(now, group)
            for member in list(group.members.values()):
                if group.members.get(member.member_id) is not member:
                    continue  # removed meanwhile
                if member.session_deadline <= now and not member.keeps_session():
                    self._remove_member(now, group, member, "session expired")
            if (
                group.state is PREPARING
                and group.join_deadline is not None
                and group.join_deadline <= now
            ):
                self._expire_join(now, group)
            if group.sync_deadline is not None and group.sync_deadline <= now:
                self._expire_sync(now, group)

    def _expire_sync(self, now: float, group: Group) -> None:
        group.sync_deadline = None
        if group.state not in (COMPLETING, STABLE) or not group.pending_sync:
            return
        missing = sorted(group.pending_sync)
        for member_id in missing:
            member = group.remove(member_id)
            if member is not None:
                member.answer_join(JoinResult.failed(ErrorCode.unknown_member_id))
        self._prepare_rebalance(now, group, f"members {missing} never sent SyncGroup")

    def next_deadline(self) -> float | None:
        """The earliest time `tick` has something to do, None when nothing is scheduled."""
        deadlines: list[float] = []
        for group in self.groups.values():
            deadlines.extend(group.pending_members.values())
            deadlines.extend(
                m.session_deadline for m in group.members.values() if not m.keeps_session()
            )
            if group.state is PREPARING and group.join_deadline is not None:
                deadlines.append(group.join_deadline)
            if group.sync_deadline is not None:
                deadlines.append(group.sync_deadline)
        return min(deadlines, default=None)

    def shutdown(self, error: int = ErrorCode.not_coordinator) -> None:
        """Answer every waiting JoinGroup and SyncGroup (the coordinator is going away)."""
        for group in self.groups.values():
            for member in group.members.values():
                member.answer_join(JoinResult.failed(error, member.member_id))
                member.answer_sync(SyncResult.failed(error))
