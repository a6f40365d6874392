"""The classic group protocol through the coordinator's public API, on a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kio.schema.errors import ErrorCode

from headwater.broker.groups import GroupCoordinator

from .helpers import (
    RANGE,
    REBALANCE_MS,
    SESSION_MS,
    FakeClock,
    done,
    join,
    member_id_for,
    settle,
    stable_group,
    sync,
)


async def test_single_member_joins_syncs_and_is_stable(coordinator: GroupCoordinator) -> None:
    member_id = await member_id_for(coordinator)
    assert member_id.startswith("client-")
    task = join(coordinator, member_id)
    await settle()
    assert not task.done()  # a new group waits for its (zero) initial delay: the next tick
    coordinator.tick()
    res = await done(task)
    assert (res.error_code, res.generation_id, res.leader) == (0, 1, member_id)
    assert (res.protocol_type, res.protocol_name) == ("consumer", "range")
    assert [(m.member_id, m.metadata) for m in res.members] == [(member_id, b"range-md")]
    assert coordinator.list_groups() == [("g", "consumer", "CompletingRebalance")]

    synced = await done(sync(coordinator, res, [(member_id, b"assignment")]))
    assert (synced.error_code, synced.assignment) == (0, b"assignment")
    assert (synced.protocol_type, synced.protocol_name) == ("consumer", "range")
    assert coordinator.heartbeat("g", 1, member_id, None) == 0
    described = coordinator.describe_group("g")
    assert (described.state, described.protocol_name) == ("Stable", "range")
    assert [(m.member_id, m.metadata, m.assignment) for m in described.members] == [
        (member_id, b"range-md", b"assignment")
    ]


async def test_three_concurrent_members_one_leader_followers_wait_for_its_assignment(
    coordinator: GroupCoordinator,
) -> None:
    ids = [await member_id_for(coordinator, client_id=f"c{i}") for i in range(3)]
    tasks = [join(coordinator, mid) for mid in ids]
    await settle()
    coordinator.tick()
    results = [await done(t) for t in tasks]

    assert {r.generation_id for r in results} == {1}
    assert {r.leader for r in results} == {ids[0]}  # the first to join leads
    leader = results[0]
    assert [m.member_id for m in leader.members] == ids
    assert all(r.members == () for r in results[1:])

    follower_syncs = [sync(coordinator, r) for r in results[1:]]
    await settle()
    assert not any(s.done() for s in follower_syncs)
    # ids[2] is left out of the leader's assignment: it gets empty bytes
    leader_sync = sync(coordinator, leader, [(ids[0], b"a0"), (ids[1], b"a1")])
    assert (await done(leader_sync)).assignment == b"a0"
    assert [(await done(s)).assignment for s in follower_syncs] == [b"a1", b""]
    assert coordinator.describe_group("g").state == "Stable"


async def test_a_fourth_member_makes_the_others_rejoin_into_the_next_generation(
    coordinator: GroupCoordinator,
) -> None:
    members = await stable_group(coordinator, 3)
    newcomer = join(coordinator, await member_id_for(coordinator, client_id="c3"))
    await settle()
    assert not newcomer.done()
    for m in members:
        assert coordinator.heartbeat("g", 1, m.member_id, None) == ErrorCode.rebalance_in_progress
    assert coordinator.describe_group("g").state == "PreparingRebalance"

    rejoins = [join(coordinator, m.member_id) for m in members]
    results = [await done(t) for t in [*rejoins, newcomer]]  # complete once all rejoined
    assert {r.generation_id for r in results} == {2}
    assert results[0].leader == members[0].member_id  # the leader rejoined: it stays leader
    assert len(results[0].members) == 4
    assert coordinator.heartbeat("g", 1, members[1].member_id, None) == ErrorCode.illegal_generation


async def test_leave_group_rebalances_the_rest(coordinator: GroupCoordinator) -> None:
    leader, follower = await stable_group(coordinator, 2)
    error, per_member = await coordinator.leave_group("g", [(leader.member_id, None)])
    assert (error, per_member) == (0, [(leader.member_id, None, 0)])
    assert (
        coordinator.heartbeat("g", 1, follower.member_id, None) == ErrorCode.rebalance_in_progress
    )
    res = await done(join(coordinator, follower.member_id))
    assert (res.generation_id, res.leader) == (2, follower.member_id)

    error, per_member = await coordinator.leave_group("g", [("nobody", None)])
    assert per_member == [("nobody", None, ErrorCode.unknown_member_id)]
    assert await coordinator.leave_group("nope", [("x", None)]) == (
        0,
        [("x", None, ErrorCode.unknown_member_id)],
    )


async def test_last_member_leaving_empties_the_group_in_a_new_generation(
    coordinator: GroupCoordinator,
) -> None:
    (only,) = await stable_group(coordinator, 1)
    await coordinator.leave_group("g", [(only.member_id, None)])
    described = coordinator.describe_group("g")
    assert (described.state, described.members) == ("Empty", ())
    assert coordinator.heartbeat("g", 1, only.member_id, None) == ErrorCode.unknown_member_id


async def test_session_timeout_removes_a_silent_member(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    alive, silent = await stable_group(coordinator, 2)
    clock.advance(SESSION_MS / 1000 * 0.6)
    assert coordinator.heartbeat("g", 1, alive.member_id, None) == 0
    clock.advance(SESSION_MS / 1000 * 0.5)
    coordinator.tick()
    assert coordinator.heartbeat("g", 1, alive.member_id, None) == ErrorCode.rebalance_in_progress
    assert coordinator.heartbeat("g", 1, silent.member_id, None) == ErrorCode.unknown_member_id
    res = await done(join(coordinator, alive.member_id))
    assert (res.generation_id, [m.member_id for m in res.members]) == (2, [alive.member_id])


async def test_members_waiting_in_join_are_not_expired_and_laggards_are_dropped_at_timeout(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    a, b = await stable_group(coordinator, 2)
    newcomer = join(coordinator, await member_id_for(coordinator, client_id="new"))
    a_join = join(coordinator, a.member_id)
    await settle()
    # b keeps heartbeating (told to rejoin) but never does; a and the newcomer wait in JoinGroup
    for _ in range(int(REBALANCE_MS / SESSION_MS) * 2):
        clock.advance(SESSION_MS / 1000 / 2)
        coordinator.heartbeat("g", 1, b.member_id, None)
        coordinator.tick()
        if a_join.done():
            break
    res = await done(a_join)
    assert res.generation_id == 2
    assert {m.member_id for m in res.members} == {a.member_id, (await done(newcomer)).member_id}
    assert coordinator.heartbeat("g", 1, b.member_id, None) == ErrorCode.unknown_member_id


async def test_a_leader_that_never_syncs_is_removed_and_followers_told_to_rejoin(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    ids = [await member_id_for(coordinator, client_id=f"c{i}") for i in range(2)]
    tasks = [join(coordinator, mid) for mid in ids]
    await settle()
    coordinator.tick()
    leader, follower = [await done(t) for t in tasks]
    waiting = sync(coordinator, follower)
    await settle()
    clock.advance(SESSION_MS / 1000 + 1)
    coordinator.tick()
    assert (await done(waiting)).error_code == ErrorCode.rebalance_in_progress
    assert coordinator.heartbeat("g", 1, leader.member_id, None) == ErrorCode.unknown_member_id


async def test_members_that_never_sync_are_removed_at_the_rebalance_timeout(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    ids = [await member_id_for(coordinator, client_id=f"c{i}") for i in range(2)]
    tasks = [join(coordinator, mid) for mid in ids]
    await settle()
    coordinator.tick()
    leader, follower = [await done(t) for t in tasks]
    synced = await done(sync(coordinator, leader, [(follower.member_id, b"f")]))
    assert synced.error_code == 0
    # both heartbeat, but the follower never sends SyncGroup
    for _ in range(REBALANCE_MS // 1000 - 1):
        clock.advance(1)
        assert coordinator.heartbeat("g", 1, follower.member_id, None) == 0
        assert coordinator.heartbeat("g", 1, leader.member_id, None) == 0
        coordinator.tick()
    clock.advance(1)
    coordinator.tick()
    described = coordinator.describe_group("g")
    assert described.state == "PreparingRebalance"
    assert [m.member_id for m in described.members] == [leader.member_id]
    assert coordinator.heartbeat("g", 1, follower.member_id, None) == ErrorCode.unknown_member_id


async def test_member_id_is_required_only_from_join_group_v4(coordinator: GroupCoordinator) -> None:
    task = join(coordinator, version=3, client_id="old-client")
    await settle()
    coordinator.tick()
    res = await done(task)
    assert res.error_code == 0
    assert res.member_id.startswith("old-client-")
    assert res.leader == res.member_id


async def test_inconsistent_protocols_are_refused(coordinator: GroupCoordinator) -> None:
    (leader,) = await stable_group(coordinator, 1)
    other = await member_id_for(coordinator, client_id="other")
    res = await done(join(coordinator, other, protocols=[("roundrobin", b"")]))
    assert res.error_code == ErrorCode.inconsistent_group_protocol
    res = await done(join(coordinator, other, protocol_type="connect"))
    assert res.error_code == ErrorCode.inconsistent_group_protocol
    empty = await done(join(coordinator, protocols=[("range", b"")], protocol_type="", group="h"))
    assert empty.error_code == ErrorCode.inconsistent_group_protocol

    newcomer = join(coordinator, other, protocols=[("roundrobin", b""), ("range", b"r")])
    rejoin = join(coordinator, leader.member_id)
    results = [await done(t) for t in (rejoin, newcomer)]
    assert {r.protocol_name for r in results} == {"range"}


async def test_protocol_is_chosen_by_member_votes(coordinator: GroupCoordinator) -> None:
    both = [("cooperative-sticky", b"s"), ("range", b"r")]
    ids = [await member_id_for(coordinator, client_id=f"c{i}") for i in range(3)]
    tasks = [
        join(coordinator, ids[0], protocols=[("range", b"r"), ("cooperative-sticky", b"s")]),
        join(coordinator, ids[1], protocols=both),
        join(coordinator, ids[2], protocols=both),
    ]
    await settle()
    coordinator.tick()
    results = [await done(t) for t in tasks]
    assert {r.protocol_name for r in results} == {"cooperative-sticky"}
    assert [m.metadata for m in results[0].members] == [b"s", b"s", b"s"]


async def test_wrong_generation_and_unknown_members_are_refused(
    coordinator: GroupCoordinator,
) -> None:
    leader, _ = await stable_group(coordinator, 2)
    mid = leader.member_id
    assert coordinator.heartbeat("g", 7, mid, None) == ErrorCode.illegal_generation
    assert coordinator.heartbeat("g", 1, "stranger", None) == ErrorCode.unknown_member_id
    assert coordinator.heartbeat("nope", 1, mid, None) == ErrorCode.unknown_member_id
    bad_sync = await coordinator.sync_group("g", 7, mid, None, None, None, [])
    assert bad_sync.error_code == ErrorCode.illegal_generation
    unknown = await coordinator.sync_group("g", 1, "stranger", None, None, None, [])
    assert unknown.error_code == ErrorCode.unknown_member_id
    wrong = await coordinator.sync_group("g", 1, mid, None, "consumer", "roundrobin", [])
    assert wrong.error_code == ErrorCode.inconsistent_group_protocol
    rejoin = await done(join(coordinator, "stranger"))
    assert rejoin.error_code == ErrorCode.unknown_member_id
    assert (await done(join(coordinator, "x", group="nope"))).error_code == 25
    assert (await done(join(coordinator, group=""))).error_code == ErrorCode.invalid_group_id
    bad_session = await done(join(coordinator, session_ms=10))
    assert bad_session.error_code == ErrorCode.invalid_session_timeout


async def test_sync_while_preparing_rebalance_is_refused(coordinator: GroupCoordinator) -> None:
    leader, follower = await stable_group(coordinator, 2)
    pending = join(coordinator, leader.member_id)  # the leader rejoining starts a rebalance
    res = await done(sync(coordinator, follower))
    assert res.error_code == ErrorCode.rebalance_in_progress
    pending.cancel()


async def test_follower_rejoining_a_stable_group_unchanged_gets_the_current_generation(
    coordinator: GroupCoordinator,
) -> None:
    leader, follower = await stable_group(coordinator, 2)
    res = await done(join(coordinator, follower.member_id))
    assert (res.error_code, res.generation_id, res.leader, res.members) == (
        0,
        1,
        leader.member_id,
        (),
    )
    assert coordinator.describe_group("g").state == "Stable"
    synced = await done(sync(coordinator, res))
    assert synced.assignment == follower.member_id.encode()


async def test_initial_rebalance_delay_waits_for_more_members(
    state_dir: Path, clock: FakeClock
) -> None:
    c = GroupCoordinator(state_dir, clock=clock, run_timers=False, initial_rebalance_delay_ms=3000)
    await c.start()
    try:
        first = join(c, version=3, client_id="a")
        await settle()
        clock.advance(2)
        c.tick()
        second = join(c, version=3, client_id="b")
        await settle()
        clock.advance(1)
        c.tick()  # the delay passed but a member arrived meanwhile: wait another delay
        assert not first.done()
        clock.advance(3)
        c.tick()
        results = [await done(t) for t in (first, second)]
        assert {r.generation_id for r in results} == {1}
        assert len(results[0].members) == 2
    finally:
        await c.close()


async def test_pending_member_id_expires_and_no_longer_holds_the_rebalance(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    (leader,) = await stable_group(coordinator, 1)
    await member_id_for(coordinator, client_id="ghost")  # never rejoins with its id
    rejoin = join(coordinator, leader.member_id)
    await settle()
    assert not rejoin.done()
    clock.advance(SESSION_MS / 1000 + 0.1)
    coordinator.tick()
    assert (await done(rejoin)).generation_id == 2


async def test_a_resent_join_answers_the_first_one(coordinator: GroupCoordinator) -> None:
    leader, follower = await stable_group(coordinator, 2)
    first = join(coordinator, leader.member_id)
    await settle()
    second = join(coordinator, leader.member_id)
    assert (await done(first)).error_code == ErrorCode.rebalance_in_progress
    follower_join = join(coordinator, follower.member_id)
    assert (await done(second)).generation_id == 2
    assert (await done(follower_join)).generation_id == 2


async def test_static_member_restart_takes_its_place_without_rebalance(
    coordinator: GroupCoordinator,
) -> None:
    tasks = [join(coordinator, instance=f"i{i}", client_id=f"c{i}") for i in range(2)]
    await settle()
    coordinator.tick()
    leader, follower = [await done(t) for t in tasks]
    assert leader.member_id.startswith("i0-")
    assignments = [(follower.member_id, b"f"), (leader.member_id, b"l")]
    syncs = [
        sync(coordinator, follower, instance="i1"),
        sync(coordinator, leader, assignments, instance="i0"),
    ]
    assert [(await done(s)).assignment for s in syncs] == [b"f", b"l"]

    restarted = await done(join(coordinator, instance="i1", client_id="c1"))
    assert restarted.member_id != follower.member_id
    assert (restarted.generation_id, restarted.leader) == (1, leader.member_id)
    assert coordinator.describe_group("g").state == "Stable"
    synced = await done(sync(coordinator, restarted, instance="i1"))
    assert synced.assignment == b"f"
    old = coordinator.heartbeat("g", 1, follower.member_id, "i1")
    assert old == ErrorCode.fenced_instance_id

    # the static leader restarting with JoinGroup v9 is told to skip the assignment
    again = await done(join(coordinator, instance="i0", client_id="c0"))
    assert again.skip_assignment and again.leader == again.member_id
    assert len(again.members) == 2

    assert await coordinator.leave_group("g", [("", "i1")]) == (0, [("", "i1", 0)])
    assert coordinator.describe_group("g").state == "PreparingRebalance"


async def test_close_answers_waiting_requests(state_dir: Path, clock: FakeClock) -> None:
    c = GroupCoordinator(state_dir, clock=clock, run_timers=False)
    await c.start()
    waiting = join(c, version=3)
    await settle()
    await c.close()
    assert (await done(waiting)).error_code == ErrorCode.not_coordinator
    c.flush()  # after close: nothing to do, no error


async def test_a_cancelled_join_leaves_the_group_able_to_rebalance(
    coordinator: GroupCoordinator, clock: FakeClock
) -> None:
    gone = join(coordinator, version=3, client_id="gone")
    await settle()
    gone.cancel()
    await settle()
    coordinator.tick()  # the cancelled member is still joined (as in Kafka): generation 1
    described = coordinator.describe_group("g")
    assert described.state == "CompletingRebalance" and len(described.members) == 1
    clock.advance(REBALANCE_MS / 1000 + 1)
    coordinator.tick()  # it never syncs: removed, group empty again
    assert coordinator.describe_group("g").state == "Empty"


async def test_timer_task_completes_joins_on_the_real_clock(state_dir: Path) -> None:
    c = GroupCoordinator(state_dir)
    await c.start()
    try:
        res = await asyncio.wait_for(
            c.join_group("g", "", None, "consumer", RANGE, 6000, 6000, "c", "h", 3), 5
        )
        assert (res.error_code, res.generation_id) == (0, 1)
    finally:
        await c.close()
