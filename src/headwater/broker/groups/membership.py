"""Kafka's classic group requests: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, commit checks.

Sans-IO and synchronous like `rebalance`, whose lifecycle these requests drive. Each waiting
request passes a callback, called exactly once: maybe before the call returns, maybe later from
another request or from `tick`. The checks and their order follow Kafka's GroupCoordinator.

Rules that keep clients working (where other Kafka-compatible brokers broke them):
1. JoinGroup v4+ without a member id gets MEMBER_ID_REQUIRED and an id to rejoin with (KIP-394).
2. A follower rejoining a Stable group with unchanged metadata gets the current generation, no
   rebalance; the leader rejoining, or anyone with changed metadata, starts one.
3. A follower's SyncGroup waits for the leader's; members the leader left out get b"".
4. A static member (group.instance.id) restarting takes its old place under a new member id; the
   old id is fenced (FENCED_INSTANCE_ID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kio.schema.errors import ErrorCode

from headwater.broker.groups.offset_store import GroupRecord
from headwater.broker.groups.rebalance import (
    COMPLETING,
    DEAD,
    EMPTY,
    NEW_MEMBER_JOIN_TIMEOUT_S,
    PREPARING,
    STABLE,
    Rebalancer,
)
from headwater.broker.groups.results import JoinResult, SyncResult
from headwater.broker.groups.state import Group, JoinCallback, Member, SyncCallback


@dataclass(frozen=True, slots=True)
class JoinRequest:
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    session_timeout_ms: int
    rebalance_timeout_ms: int
    client_id: str
    client_host: str
    #: JoinGroup v4+ (KIP-394).
    require_known_member_id: bool
    #: JoinGroup v9+ (KIP-814).
    supports_skip_assignment: bool
    respond: JoinCallback


class Membership(Rebalancer):
    """The group requests of every group."""

    def __init__(
        self,
        *,
        persist: Callable[[GroupRecord], None],
        initial_rebalance_delay_ms: int = 0,
        min_session_timeout_ms: int = 1000,
        max_session_timeout_ms: int = 1_800_000,
    ) -> None:
        super().__init__(persist=persist, initial_rebalance_delay_ms=initial_rebalance_delay_ms)
        self._min_session_ms = min_session_timeout_ms
        self._max_session_ms = max_session_timeout_ms

    # -- JoinGroup

    def join(self, now: float, group_id: str, req: JoinRequest) -> None:
        if not group_id:
            req.respond(JoinResult.failed(ErrorCode.invalid_group_id, req.member_id))
            return
        if not self._min_session_ms <= req.session_timeout_ms <= self._max_session_ms:
            req.respond(JoinResult.failed(ErrorCode.invalid_session_timeout, req.member_id))
            return
        group = self.groups.get(group_id)
        if group is None:
            if req.member_id:
                req.respond(JoinResult.failed(ErrorCode.unknown_member_id, req.member_id))
                return
            group = self.groups[group_id] = Group(group_id)
        names = {name for name, _ in req.protocols}
        if group.state is DEAD:
            req.respond(JoinResult.failed(ErrorCode.coordinator_not_available, req.member_id))
        elif not group.supports_protocols(req.protocol_type, names, req.member_id):
            req.respond(JoinResult.failed(ErrorCode.inconsistent_group_protocol, req.member_id))
        elif not req.member_id:
            self._join_new_member(now, group, req)
        else:
            self._join_current_member(now, group, req)
        self._try_complete_join(now, group)

    def _join_new_member(self, now: float, group: Group, req: JoinRequest) -> None:
        new_id = group.generate_member_id(req.client_id, req.group_instance_id)
        if req.group_instance_id is not None:
            old_id = group.static_members.get(req.group_instance_id)
            if old_id is not None:
                self._replace_static_member(now, group, old_id, new_id, req)
            else:
                self._add_member_and_rebalance(now, group, new_id, req)
        elif req.require_known_member_id:
            group.pending_members[new_id] = now + req.session_timeout_ms / 1000
            req.respond(JoinResult.failed(ErrorCode.member_id_required, new_id))
        else:
            self._add_member_and_rebalance(now, group, new_id, req)

    def _join_current_member(self, now: float, group: Group, req: JoinRequest) -> None:
        member_id = req.member_id
        if member_id in group.pending_members:
            if req.group_instance_id in group.static_members:
                req.respond(JoinResult.failed(ErrorCode.fenced_instance_id, member_id))
            else:
                self._add_member_and_rebalance(now, group, member_id, req)
            return
        error = group.validate_member(member_id, req.group_instance_id)
        if error:
            req.respond(JoinResult.failed(error, member_id))
            return
        member = group.members[member_id]
        if group.state is PREPARING:
            self._update_member_and_rebalance(now, group, member, req)
        elif group.state is COMPLETING:
            if member.matches(req.protocols):  # a retry of a join that was answered already
                with_members = group.is_leader(member_id)
                req.respond(group.current_generation(member_id, with_members=with_members))
            else:
                self._update_member_and_rebalance(now, group, member, req)
        elif group.state is STABLE:
            if group.is_leader(member_id) or not member.matches(req.protocols):
                self._update_member_and_rebalance(now, group, member, req)
            else:
                req.respond(group.current_generation(member_id, with_members=False))
        else:
            req.respond(JoinResult.failed(ErrorCode.unknown_member_id, member_id))

    def _add_member_and_rebalance(
        self, now: float, group: Group, member_id: str, req: JoinRequest
    ) -> None:
        member = Member(
            member_id=member_id,
            group_instance_id=req.group_instance_id,
            client_id=req.client_id,
            client_host=req.client_host,
            session_timeout_ms=req.session_timeout_ms,
            rebalance_timeout_ms=req.rebalance_timeout_ms,
            protocol_type=req.protocol_type,
            protocols=[(name, bytes(md)) for name, md in req.protocols],
            join_callback=req.respond,
            is_new=True,
            session_deadline=now + NEW_MEMBER_JOIN_TIMEOUT_S,
        )
        if group.state is PREPARING and group.in_initial_delay:
            group.new_member_added = True
        group.add(member)
        self._maybe_prepare_rebalance(now, group, f"member {member_id} joined")

    def _update_member_and_rebalance(
        self, now: float, group: Group, member: Member, req: JoinRequest
    ) -> None:
        member.protocols = [(name, bytes(md)) for name, md in req.protocols]
        member.session_timeout_ms = req.session_timeout_ms
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
        # A JoinGroup resent while the first one waits: the first is answered, not leaked.
        member.answer_join(JoinResult.failed(ErrorCode.rebalance_in_progress, member.member_id))
        member.join_callback = req.respond
        self._maybe_prepare_rebalance(now, group, f"member {member.member_id} rejoined")

    def _replace_static_member(
        self, now: float, group: Group, old_id: str, new_id: str, req: JoinRequest
    ) -> None:
        """A static member restarted: it takes its old place under a new member id."""
        assert req.group_instance_id is not None
        current_leader = group.leader_id or ""
        member = group.replace_static_member(req.group_instance_id, old_id, new_id)
        member.session_deadline = now + req.session_timeout_ms / 1000
        member.protocols = [(name, bytes(md)) for name, md in req.protocols]
        member.session_timeout_ms = req.session_timeout_ms
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
        member.join_callback = req.respond
        if group.state is STABLE:
            if group.select_protocol() != group.protocol_name:
                self._maybe_prepare_rebalance(
                    now, group, f"static member {new_id} changed protocols"
                )
                return
            self._persist(group, with_members=True)
            # Without skip_assignment the old leader id is returned, so no one re-runs the
            # assignor: a Stable group would not pass a new assignment on.
            skip = req.supports_skip_assignment and group.is_leader(new_id)
            result = group.current_generation(new_id, with_members=skip)
            if skip:
                member.answer_join(replace(result, skip_assignment=True))
            else:
                member.answer_join(replace(result, leader=current_leader))
        elif group.state is COMPLETING:
            self._prepare_rebalance(now, group, f"static member {new_id} replaced {old_id}")

    # -- SyncGroup

    def sync(
        self,
        now: float,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: list[tuple[str, bytes]],
        respond: SyncCallback,
    ) -> None:
        group = self.groups.get(group_id)
        error = self._sync_error(group_id, group, generation_id, member_id, group_instance_id)
        if not error and group is not None:
            error = self._sync_state_error(group, protocol_type, protocol_name)
        if error:
            respond(SyncResult.failed(error))
            return
        assert group is not None
        member = group.members[member_id]
        self._sync_received(group, member_id)
        if group.state is STABLE:
            member.session_deadline = now + member.session_timeout_ms / 1000
            respond(
                SyncResult(
                    ErrorCode.none, group.protocol_type, group.protocol_name, member.assignment
                )
            )
            return
        member.answer_sync(SyncResult.failed(ErrorCode.rebalance_in_progress))  # a resent sync
        member.sync_callback = respond
        if not group.is_leader(member_id):
            return
        given = {mid: bytes(data) for mid, data in assignments}
        for m in group.members.values():
            m.assignment = given.get(m.member_id, b"")
        if not self._persist(group, with_members=True):
            self._reset_assignments(now, group, ErrorCode.coordinator_not_available)
            self._maybe_prepare_rebalance(now, group, "the assignment could not be stored")
            return
        group.transition(STABLE)
        for m in group.members.values():
            if m.awaiting_sync:
                m.session_deadline = now + m.session_timeout_ms / 1000
                m.answer_sync(
                    SyncResult(
                        ErrorCode.none, group.protocol_type, group.protocol_name, m.assignment
                    )
                )

    @staticmethod
    def _sync_error(
        group_id: str,
        group: Group | None,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
    ) -> int:
        if not group_id:
            return ErrorCode.invalid_group_id
        if group is None:
            return ErrorCode.unknown_member_id
        if group.state is DEAD:
            return ErrorCode.coordinator_not_available
        error = group.validate_member(member_id, instance_id)
        if error:
            return error
        if generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        return ErrorCode.none

    @staticmethod
    def _sync_state_error(
        group: Group, protocol_type: str | None, protocol_name: str | None
    ) -> int:
        if protocol_type is not None and protocol_type != group.protocol_type:
            return ErrorCode.inconsistent_group_protocol
        if protocol_name is not None and protocol_name != group.protocol_name:
            return ErrorCode.inconsistent_group_protocol
        if group.state is EMPTY:
            return ErrorCode.unknown_member_id
        if group.state is PREPARING:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    @staticmethod
    def _sync_received(group: Group, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            group.sync_deadline = None

    # -- Heartbeat, LeaveGroup

    def heartbeat(
        self,
        now: float,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
    ) -> int:
        if not group_id:
            return ErrorCode.invalid_group_id
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.unknown_member_id
        if group.state is DEAD:
            return ErrorCode.coordinator_not_available
        error = group.validate_member(member_id, group_instance_id)
        if error:
            return error
        if generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        if group.state is EMPTY:
            return ErrorCode.unknown_member_id
        member = group.members[member_id]
        member.session_deadline = now + member.session_timeout_ms / 1000
        if group.state is PREPARING:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    def leave(
        self, now: float, group_id: str, members: list[tuple[str, str | None]]
    ) -> tuple[int, list[tuple[str, str | None, int]]]:
        if not group_id:
            return ErrorCode.invalid_group_id, []
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.none, [(m, i, ErrorCode.unknown_member_id) for m, i in members]
        if group.state is DEAD:
            return ErrorCode.coordinator_not_available, []
        results: list[tuple[str, str | None, int]] = []
        for member_id, instance_id in members:
            results.append(
                (member_id, instance_id, self._leave_one(now, group, member_id, instance_id))
            )
        return ErrorCode.none, results

    def _leave_one(self, now: float, group: Group, member_id: str, instance_id: str | None) -> int:
        if not member_id:  # administrative removal of a static member by its instance id
            current = group.static_members.get(instance_id) if instance_id is not None else None
            if current is None:
                return ErrorCode.unknown_member_id
            member_id = current
        elif member_id in group.pending_members:
            del group.pending_members[member_id]
            self._try_complete_join(now, group)
            return ErrorCode.none
        else:
            error = group.validate_member(member_id, instance_id)
            if error:
                return error
        self._remove_member(now, group, group.members[member_id], "left the group")
        return ErrorCode.none

    # -- OffsetCommit

    def validate_commit(
        self,
        now: float,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
    ) -> int:
        """Kafka's checks before offsets are stored; creates the group for a standalone commit."""
        group = self.groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                return ErrorCode.illegal_generation
            group = self.groups[group_id] = Group(group_id)
        if group.state is DEAD:
            return ErrorCode.coordinator_not_available
        if generation_id < 0 and group.state is EMPTY:
            return ErrorCode.none
        if generation_id >= 0 or member_id or group_instance_id is not None:
            error = group.validate_member(member_id, group_instance_id)
            if error:
                return error
            if generation_id != group.generation_id:
                return ErrorCode.illegal_generation
        elif group.state is not EMPTY:
            return ErrorCode.unknown_member_id  # only members commit for a group with members
        if group.state is COMPLETING:
            return ErrorCode.rebalance_in_progress
        member = group.members.get(member_id)
        if member is not None:
            member.session_deadline = now + member.session_timeout_ms / 1000
        return ErrorCode.none
