"""Groups and members of Kafka's classic group protocol: plain data and its invariants.

Rule: nothing here does I/O, awaits or reads a clock. Timers are deadlines in clock seconds that
`membership.Membership.tick` compares with the time it is given; answers to waiting JoinGroup and
SyncGroup requests are callbacks a member holds until they are called (once).

States (Kafka's names) and the moves between them:

    Empty -> PreparingRebalance          a member joins
    PreparingRebalance -> CompletingRebalance   every member rejoined, or the rebalance timeout
    PreparingRebalance -> Empty          ... and no member is left
    CompletingRebalance -> Stable        the leader's SyncGroup carried the assignment
    Stable | CompletingRebalance -> PreparingRebalance   a member joins, changes, leaves or expires
    any -> Dead                          the group is deleted
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

from headwater.broker.groups.offset_store import GroupRecord, MemberRecord
from headwater.broker.groups.results import JoinMember, JoinResult, SyncResult

JoinCallback = Callable[[JoinResult], None]
SyncCallback = Callable[[SyncResult], None]


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


_VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY}
    ),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(GroupState),
}


@dataclass(slots=True, eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    #: (protocol name, metadata) in the member's order of preference.
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    #: Set while the member's JoinGroup waits for the join phase to complete.
    join_callback: JoinCallback | None = None
    #: Set while the member's SyncGroup waits for the leader's assignment.
    sync_callback: SyncCallback | None = None
    #: Joined for the first time and not yet answered: may be expired while awaiting the join.
    is_new: bool = False
    #: When the member is removed unless a heartbeat, join, sync or commit comes first.
    session_deadline: float = 0.0

    @property
    def awaiting_join(self) -> bool:
        return self.join_callback is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_callback is not None

    def keeps_session(self) -> bool:
        """Members awaiting a rebalance are not expired (new members only after 5 minutes)."""
        return (self.awaiting_join and not self.is_new) or self.awaiting_sync

    def metadata(self, protocol: str | None) -> bytes:
        return next((md for name, md in self.protocols if name == protocol), b"")

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return [(n, bytes(md)) for n, md in protocols] == self.protocols

    def vote(self, candidates: set[str]) -> str:
        return next(name for name, _ in self.protocols if name in candidates)

    def answer_join(self, result: JoinResult) -> None:
        callback, self.join_callback = self.join_callback, None
        if callback is not None:
            callback(result)

    def answer_sync(self, result: SyncResult) -> None:
        callback, self.sync_callback = self.sync_callback, None
        if callback is not None:
            callback(result)


@dataclass(slots=True, eq=False)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation_id: int = 0
    leader_id: str | None = None
    #: In join order: the first joined member leads a new group.
    members: dict[str, Member] = field(default_factory=dict)
    #: group.instance.id -> member id of the static member holding it.
    static_members: dict[str, str] = field(default_factory=dict)
    #: Member ids handed out with MEMBER_ID_REQUIRED -> deadline to rejoin with them.
    pending_members: dict[str, float] = field(default_factory=dict)
    #: Members of the current generation whose SyncGroup has not arrived yet.
    pending_sync: set[str] = field(default_factory=set)
    #: PreparingRebalance: when the join phase completes even if not every member rejoined.
    join_deadline: float | None = None
    #: The join phase of a group that was Empty waits group.initial.rebalance.delay.ms.
    in_initial_delay: bool = False
    new_member_added: bool = False
    initial_delay_remaining_ms: int = 0
    #: When members that joined but never synced are removed.
    sync_deadline: float | None = None

    # -- membership

    def has(self, member_id: str) -> bool:
        return member_id in self.members

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self.pending_members.pop(member.member_id, None)

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is not None and member.group_instance_id is not None:
            self.static_members.pop(member.group_instance_id, None)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        self.pending_members.pop(member_id, None)
        self.pending_sync.discard(member_id)
        return member

    def replace_static_member(self, instance_id: str, old_id: str, new_id: str) -> Member:
        """Hand a static member's place to a new member id; the old one's waits are fenced."""
        member = self.members.pop(old_id)
        member.answer_join(JoinResult.failed(ErrorCode.fenced_instance_id, old_id))
        member.answer_sync(SyncResult.failed(ErrorCode.fenced_instance_id))
        member.member_id = new_id
        self.members[new_id] = member
        if self.leader_id == old_id:
            self.leader_id = new_id
        if old_id in self.pending_sync:
            self.pending_sync.discard(old_id)
            self.pending_sync.add(new_id)
        self.static_members[instance_id] = new_id
        return member

    def validate_member(self, member_id: str, group_instance_id: str | None) -> int:
        """FENCED_INSTANCE_ID / UNKNOWN_MEMBER_ID for a request from someone not in the group."""
        if group_instance_id is not None:
            current = self.static_members.get(group_instance_id)
            if current is None:
                return ErrorCode.unknown_member_id
            if current != member_id:
                return ErrorCode.fenced_instance_id
        return ErrorCode.none if member_id in self.members else ErrorCode.unknown_member_id

    def all_members_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    @property
    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def can_rebalance(self) -> bool:
        return self.state in _VALID_PREVIOUS[GroupState.PREPARING_REBALANCE]

    def transition(self, state: GroupState) -> None:
        if self.state not in _VALID_PREVIOUS[state]:
            raise AssertionError(f"group {self.group_id}: no transition {self.state} -> {state}")
        self.state = state

    # -- protocols

    def supports_protocols(self, protocol_type: str, names: set[str], member_id: str) -> bool:
        """Can a member with these protocols be in the group (every other member shares one)?"""
        if not self.members:
            return bool(protocol_type) and bool(names)
        if protocol_type != self.protocol_type:
            return False
        others = [
            {n for n, _ in m.protocols} for m in self.members.values() if m.member_id != member_id
        ]
        return any(all(name in theirs for theirs in others) for name in names)

    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        common = {name for name, _ in members[0].protocols}
        for member in members[1:]:
            common &= {name for name, _ in member.protocols}
        return common

    def select_protocol(self) -> str:
        """Every member votes for its first candidate; most votes win, ties go by leader order."""
        candidates = self.candidate_protocols()
        leader = self.members.get(self.leader_id or "") or next(iter(self.members.values()))
        if not candidates:  # cannot happen: a member sharing no protocol is refused on join
            return leader.protocols[0][0]
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = member.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        order = [name for name, _ in leader.protocols]
        return max(votes, key=lambda name: (votes[name], -order.index(name)))

    def elect_joined_leader(self) -> bool:
        """Keep a leader that rejoined, else promote the first member that did; False if none."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].awaiting_join:
            return True
        joined = next((m for m in self.members.values() if m.awaiting_join), None)
        if joined is None:
            return False
        self.leader_id = joined.member_id
        return True

    def current_member_metadata(self) -> tuple[JoinMember, ...]:
        return tuple(
            JoinMember(m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
            for m in self.members.values()
        )

    def current_generation(self, member_id: str, *, with_members: bool) -> JoinResult:
        return JoinResult(
            error_code=ErrorCode.none,
            generation_id=self.generation_id,
            protocol_type=self.protocol_type,
            protocol_name=self.protocol_name,
            leader=self.leader_id or "",
            member_id=member_id,
            members=self.current_member_metadata() if with_members else (),
        )

    @staticmethod
    def generate_member_id(client_id: str, group_instance_id: str | None) -> str:
        return f"{group_instance_id if group_instance_id is not None else client_id}-{uuid.uuid4()}"

    # -- persistence

    def to_record(self, *, with_members: bool) -> GroupRecord:
        members = tuple(
            MemberRecord(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                session_timeout_ms=m.session_timeout_ms,
                rebalance_timeout_ms=m.rebalance_timeout_ms,
                subscription=m.metadata(self.protocol_name),
                assignment=m.assignment,
            )
            for m in self.members.values()
        )
        return GroupRecord(
            group_id=self.group_id,
            protocol_type=self.protocol_type,
            protocol_name=self.protocol_name if with_members else None,
            generation_id=self.generation_id,
            leader_id=self.leader_id if with_members else None,
            members=members if with_members else (),
        )

    @classmethod
    def from_record(cls, record: GroupRecord, now: float) -> Group:
        """A restored group: Stable with its members if it had them, else Empty."""
        group = cls(record.group_id, generation_id=record.generation_id)
        group.protocol_type = record.protocol_type
        if not record.members or record.protocol_name is None:
            return group
        group.state = GroupState.STABLE
        group.protocol_name = record.protocol_name
        for m in record.members:
            member = Member(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                session_timeout_ms=m.session_timeout_ms,
                rebalance_timeout_ms=m.rebalance_timeout_ms,
                protocol_type=record.protocol_type or "",
                protocols=[(record.protocol_name, m.subscription)],
                assignment=m.assignment,
                session_deadline=now + m.session_timeout_ms / 1000,
            )
            group.add(member)
        if record.leader_id in group.members:
            group.leader_id = record.leader_id
        return group
