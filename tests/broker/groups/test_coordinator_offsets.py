"""OffsetCommit / OffsetFetch through the coordinator, and what survives a restart."""

from __future__ import annotations

from pathlib import Path

from kio.schema.errors import ErrorCode

from headwater.broker.groups import GroupCoordinator

from .helpers import FakeClock, done, join, member_id_for, settle, stable_group, sync

METADATA = [None, "", "héllo ✓ 日本 🚀", "x" * 4096]


async def restarted(state_dir: Path, clock: FakeClock, old: GroupCoordinator) -> GroupCoordinator:
    await old.close()
    c = GroupCoordinator(state_dir, clock=clock, run_timers=False)
    await c.start()
    return c


async def test_commit_and_fetch_round_trip_metadata_exactly(coordinator: GroupCoordinator) -> None:
    offsets = [("t", i, 100 + i, 7, md) for i, md in enumerate(METADATA)]
    assert coordinator.commit_offsets("g", -1, "", None, offsets) == [
        ("t", i, 0) for i in range(len(METADATA))
    ]
    error, rows = coordinator.fetch_offsets("g", [("t", 0), ("t", 1), ("t", 2), ("t", 3), ("t", 9)])
    assert error == 0
    assert rows == [
        *[("t", i, 100 + i, 7, md, 0) for i, md in enumerate(METADATA)],
        ("t", 9, -1, -1, "", 0),
    ]
    _, everything = coordinator.fetch_offsets("g", None)
    assert sorted(everything, key=lambda r: r[1]) == rows[:4]
    assert coordinator.committed_offsets() == {"g": {("t", i): 100 + i for i in range(4)}}


async def test_too_large_metadata_is_refused_per_partition(coordinator: GroupCoordinator) -> None:
    result = coordinator.commit_offsets(
        "g", -1, "", None, [("t", 0, 1, -1, "y" * 4097), ("t", 1, 2, -1, None)]
    )
    assert result == [("t", 0, ErrorCode.offset_metadata_too_large), ("t", 1, 0)]
    assert coordinator.fetch_offsets("g", [("t", 0)])[1][0][2] == -1


async def test_unknown_group_fetch_is_no_error(coordinator: GroupCoordinator) -> None:
    assert coordinator.fetch_offsets("nope", [("t", 0)]) == (0, [("t", 0, -1, -1, "", 0)])
    assert coordinator.fetch_offsets("nope", None) == (0, [])


async def test_standalone_commit_creates_an_empty_group_and_needs_it_empty(
    coordinator: GroupCoordinator,
) -> None:
    assert coordinator.commit_offsets("solo", -1, "", None, [("t", 0, 5, -1, None)]) == [
        ("t", 0, 0)
    ]
    assert ("solo", "", "Empty") in coordinator.list_groups()
    assert coordinator.commit_offsets("fresh", 3, "m", None, [("t", 0, 5, -1, None)]) == [
        ("t", 0, ErrorCode.illegal_generation)
    ]

    await stable_group(coordinator, 1)
    refused = coordinator.commit_offsets("g", -1, "", None, [("t", 0, 5, -1, None)])
    assert refused == [("t", 0, ErrorCode.unknown_member_id)]


async def test_member_commits_are_checked_against_generation_and_state(
    coordinator: GroupCoordinator,
) -> None:
    leader, follower = await stable_group(coordinator, 2)
    mid = leader.member_id
    ok = [("t", 0, 10, -1, "m")]
    assert coordinator.commit_offsets("g", 1, mid, None, ok) == [("t", 0, 0)]
    assert coordinator.commit_offsets("g", 2, mid, None, ok) == [
        ("t", 0, ErrorCode.illegal_generation)
    ]
    assert coordinator.commit_offsets("g", 1, "who", None, ok) == [
        ("t", 0, ErrorCode.unknown_member_id)
    ]

    rejoin_leader = join(coordinator, mid)  # PreparingRebalance: commits still accepted
    assert coordinator.commit_offsets("g", 1, follower.member_id, None, ok) == [("t", 0, 0)]
    rejoin_follower = join(coordinator, follower.member_id)
    new_leader = await done(rejoin_leader)
    await done(rejoin_follower)
    # CompletingRebalance: the member has the new generation but no assignment yet
    assert coordinator.commit_offsets("g", 2, mid, None, ok) == [
        ("t", 0, ErrorCode.rebalance_in_progress)
    ]
    await done(sync(coordinator, new_leader))


async def test_offsets_and_stable_group_survive_a_restart(
    coordinator: GroupCoordinator, state_dir: Path, clock: FakeClock
) -> None:
    leader, follower = await stable_group(coordinator, 2)
    coordinator.commit_offsets("g", 1, leader.member_id, None, [("t", 0, 42, 3, "meta")])
    coordinator.commit_offsets("g", 1, follower.member_id, None, [("t", 1, 7, -1, None)])
    coordinator.commit_offsets("other", -1, "", None, [("u", 0, 1, -1, "")])

    c = await restarted(state_dir, clock, coordinator)
    try:
        assert c.fetch_offsets("g", None)[1] == [
            ("t", 0, 42, 3, "meta", 0),
            ("t", 1, 7, -1, None, 0),
        ]
        assert c.fetch_offsets("other", [("u", 0)])[1] == [("u", 0, 1, -1, "", 0)]
        described = c.describe_group("g")
        assert described.state == "Stable"
        assert [(m.member_id, m.assignment) for m in described.members] == [
            (leader.member_id, leader.member_id.encode()),
            (follower.member_id, follower.member_id.encode()),
        ]
        # members carry on where they were: no rebalance after a broker restart
        assert c.heartbeat("g", 1, follower.member_id, None) == 0
        res = await done(sync(c, follower))
        assert res.assignment == follower.member_id.encode()
        # the leader rejoining starts generation 2, never a generation seen before
        tasks = [join(c, leader.member_id), join(c, follower.member_id)]
        assert {(await done(t)).generation_id for t in tasks} == {2}
    finally:
        await c.close()


async def test_generation_never_repeats_after_a_restart_mid_rebalance(
    coordinator: GroupCoordinator, state_dir: Path, clock: FakeClock
) -> None:
    (leader,) = await stable_group(coordinator, 1)
    res = await done(join(coordinator, leader.member_id))  # generation 2, not yet synced
    assert res.generation_id == 2
    c = await restarted(state_dir, clock, coordinator)
    try:
        assert c.describe_group("g").state == "Empty"  # members must rejoin
        assert c.heartbeat("g", 2, leader.member_id, None) == ErrorCode.unknown_member_id
        task = join(c, version=3)
        await settle()
        c.tick()
        assert (await done(task)).generation_id == 3
    finally:
        await c.close()


async def test_delete_topic_offsets_is_permanent(
    coordinator: GroupCoordinator, state_dir: Path, clock: FakeClock
) -> None:
    for group in ("a", "b"):
        coordinator.commit_offsets(
            group, -1, "", None, [("gone", 0, 1, -1, None), ("kept", 0, 2, -1, None)]
        )
    coordinator.delete_topic_offsets("gone")
    coordinator.delete_topic_offsets("never-existed")
    assert coordinator.committed_offsets() == {"a": {("kept", 0): 2}, "b": {("kept", 0): 2}}
    c = await restarted(state_dir, clock, coordinator)
    try:
        assert c.committed_offsets() == {"a": {("kept", 0): 2}, "b": {("kept", 0): 2}}
    finally:
        await c.close()


async def test_delete_group_only_when_empty(
    coordinator: GroupCoordinator, state_dir: Path, clock: FakeClock
) -> None:
    coordinator.commit_offsets("solo", -1, "", None, [("t", 0, 1, -1, None)])
    await stable_group(coordinator, 1)
    assert coordinator.delete_group("g") == ErrorCode.non_empty_group
    assert coordinator.delete_group("nope") == ErrorCode.group_id_not_found
    assert coordinator.delete_group("solo") == 0
    assert coordinator.describe_group("solo").state == "Dead"
    c = await restarted(state_dir, clock, coordinator)
    try:
        assert "solo" not in c.committed_offsets()
        assert [g for g, _, _ in c.list_groups()] == ["g"]
    finally:
        await c.close()


async def test_commits_fail_retriably_when_the_file_cannot_be_written(
    coordinator: GroupCoordinator,
) -> None:
    await coordinator.close()  # the store is closed: appends are refused
    result = coordinator.commit_offsets("g", -1, "", None, [("t", 0, 1, -1, None)])
    assert result == [("t", 0, ErrorCode.coordinator_not_available)]


async def test_describe_unknown_group_is_dead(coordinator: GroupCoordinator) -> None:
    unknown = coordinator.describe_group("nope")
    assert (unknown.error_code, unknown.state, unknown.members) == (0, "Dead", ())
    assert (
        coordinator.describe_group("nope", api_version=6).error_code == ErrorCode.group_id_not_found
    )
    await member_id_for(coordinator)
    assert coordinator.describe_group("g").state == "Empty"


async def test_a_commit_is_in_the_file_when_it_is_answered(
    coordinator: GroupCoordinator, state_dir: Path, clock: FakeClock
) -> None:
    """As after kill -9: nothing closed or flushed, a second coordinator reads the file."""
    coordinator.commit_offsets("g", -1, "", None, [("t", 0, 99, 2, "m")])
    other = GroupCoordinator(state_dir, clock=clock, run_timers=False)
    await other.start()
    try:
        assert other.fetch_offsets("g", [("t", 0)])[1] == [("t", 0, 99, 2, "m", 0)]
    finally:
        await other.close()
