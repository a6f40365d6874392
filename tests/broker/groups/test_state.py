"""Group and member invariants: protocol choice, leadership, transitions, records."""

from __future__ import annotations

import pytest

from headwater.broker.groups.state import Group, GroupState, Member


def member(
    member_id: str, protocols: list[str], *, joined: bool = True, instance: str | None = None
) -> Member:
    return Member(
        member_id=member_id,
        group_instance_id=instance,
        client_id="c",
        client_host="/h",
        session_timeout_ms=10_000,
        rebalance_timeout_ms=20_000,
        protocol_type="consumer",
        protocols=[(p, p.encode()) for p in protocols],
        join_callback=(lambda _: None) if joined else None,
    )


def group_of(*members: Member) -> Group:
    group = Group("g")
    for m in members:
        group.add(m)
    return group


def test_most_voted_common_protocol_wins() -> None:
    group = group_of(
        member("a", ["range", "sticky"]),
        member("b", ["sticky", "range", "roundrobin"]),
        member("c", ["sticky", "range"]),
    )
    assert group.candidate_protocols() == {"range", "sticky"}
    assert group.select_protocol() == "sticky"


def test_a_tied_vote_goes_by_the_leaders_preference() -> None:
    group = group_of(member("a", ["range", "sticky"]), member("b", ["sticky", "range"]))
    assert group.select_protocol() == "range"


def test_protocol_support() -> None:
    empty = Group("g")
    assert empty.supports_protocols("consumer", {"range"}, "")
    assert not empty.supports_protocols("", {"range"}, "")
    assert not empty.supports_protocols("consumer", set(), "")
    group = group_of(member("a", ["range", "sticky"]), member("b", ["range"]))
    assert group.supports_protocols("consumer", {"range", "other"}, "")
    assert not group.supports_protocols("consumer", {"sticky"}, "")
    assert not group.supports_protocols("connect", {"range"}, "")
    assert group.supports_protocols("consumer", {"sticky"}, "b")  # b may change its own
    alone = group_of(member("a", ["range"]))
    assert alone.supports_protocols("consumer", {"anything"}, "a")


def test_first_member_leads_and_leadership_passes_on_removal() -> None:
    group = group_of(member("a", ["range"]), member("b", ["range"]), member("c", ["range"]))
    assert group.leader_id == "a" and group.protocol_type == "consumer"
    group.remove("a")
    assert group.leader_id == "b"
    group.remove("b")
    group.remove("c")
    assert group.leader_id is None


def test_a_leader_that_did_not_rejoin_is_replaced_by_one_that_did() -> None:
    group = group_of(member("a", ["range"], joined=False), member("b", ["range"]))
    assert group.elect_joined_leader() and group.leader_id == "b"
    nobody = group_of(member("a", ["range"], joined=False))
    assert not nobody.elect_joined_leader()


def test_only_kafkas_transitions_are_allowed() -> None:
    group = Group("g")
    with pytest.raises(AssertionError):
        group.transition(GroupState.STABLE)
    group.transition(GroupState.PREPARING_REBALANCE)
    group.transition(GroupState.COMPLETING_REBALANCE)
    group.transition(GroupState.STABLE)
    group.transition(GroupState.PREPARING_REBALANCE)
    group.transition(GroupState.EMPTY)


def test_static_members_are_validated_by_instance_id() -> None:
    group = group_of(member("a", ["range"], instance="i"))
    assert group.validate_member("a", "i") == 0
    assert group.validate_member("b", "i") == 82  # FENCED_INSTANCE_ID
    assert group.validate_member("a", "other") == 25
    assert group.validate_member("a", None) == 0
    replaced = group.replace_static_member("i", "a", "a2")
    assert replaced.member_id == "a2" and group.leader_id == "a2"
    assert group.validate_member("a", "i") == 82


def test_a_stable_group_record_round_trips() -> None:
    group = group_of(member("a", ["range"]), member("b", ["range"], instance="i"))
    group.generation_id = 3
    group.protocol_name = "range"
    group.members["b"].assignment = b"asg"
    record = group.to_record(with_members=True)
    restored = Group.from_record(record, now=50.0)
    assert restored.state is GroupState.STABLE
    assert (restored.generation_id, restored.leader_id, restored.protocol_name) == (3, "a", "range")
    assert restored.static_members == {"i": "b"}
    assert restored.members["b"].assignment == b"asg"
    assert restored.members["b"].session_deadline == 60.0
    empty = Group.from_record(group.to_record(with_members=False), now=50.0)
    assert (empty.state, empty.generation_id, empty.members) == (GroupState.EMPTY, 3, {})
