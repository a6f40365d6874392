"""The sans-IO membership engine: callbacks, deadlines and persistence failures."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from headwater.broker.groups.membership import JoinRequest, Membership
from headwater.broker.groups.offset_store import GroupRecord, StoreError
from headwater.broker.groups.rebalance import NEW_MEMBER_JOIN_TIMEOUT_S
from headwater.broker.groups.results import JoinResult, SyncResult


class Answers(list):
    def __call__(self, result: object) -> None:
        self.append(result)


def request(member_id: str = "", *, rebalance_ms: int = 20_000, respond: Answers) -> JoinRequest:
    return JoinRequest(
        member_id=member_id,
        group_instance_id=None,
        protocol_type="consumer",
        protocols=[("range", b"")],
        session_timeout_ms=10_000,
        rebalance_timeout_ms=rebalance_ms,
        client_id="c",
        client_host="/h",
        require_known_member_id=False,
        supports_skip_assignment=False,
        respond=respond,
    )


def one_member_group(m: Membership, now: float = 0.0) -> JoinResult:
    answers = Answers()
    m.join(now, "g", request(respond=answers))
    m.tick(now)
    (joined,) = answers
    return joined


def test_every_wait_is_answered_exactly_once() -> None:
    m = Membership(persist=lambda _: None)
    joined = one_member_group(m)
    syncs = Answers()
    m.sync(0.0, "g", 1, joined.member_id, None, None, None, [(joined.member_id, b"a")], syncs)
    m.tick(1.0)
    m.sync(1.0, "g", 1, joined.member_id, None, None, None, [], syncs)  # Stable: answered again
    assert [s.assignment for s in syncs] == [b"a", b"a"]


def two_member_group(m: Membership) -> tuple[str, str]:
    answers = Answers()
    m.join(0.0, "g", request(respond=answers))
    m.join(0.0, "g", request(respond=answers))
    m.tick(0.0)
    a, b = (r.member_id for r in answers)
    m.sync(0.0, "g", 1, b, None, None, None, [], Answers())
    m.sync(0.0, "g", 1, a, None, None, None, [], Answers())
    return a, b


def test_waiting_members_are_kept_and_do_not_make_the_timer_spin() -> None:
    m = Membership(persist=lambda _: None)
    a, b = two_member_group(m)
    rejoin = Answers()
    m.join(5.0, "g", request(a, rebalance_ms=600_000, respond=rejoin))
    # a waits in JoinGroup past its session timeout (10 s); b heartbeats but does not rejoin
    assert m.heartbeat(95.0, "g", 1, b, None) == ErrorCode.rebalance_in_progress
    m.tick(100.0)
    assert rejoin == [] and set(m.groups["g"].members) == {a, b}
    assert m.next_deadline() == 105.0  # b's session, not a's long-past one


def test_a_new_member_waiting_five_minutes_is_removed() -> None:
    m = Membership(persist=lambda _: None)
    a, b = two_member_group(m)
    m.join(1.0, "g", request(a, rebalance_ms=900_000, respond=Answers()))
    newcomer = Answers()
    m.join(1.0, "g", request(respond=newcomer))
    m.heartbeat(NEW_MEMBER_JOIN_TIMEOUT_S, "g", 1, b, None)
    m.tick(1.0 + NEW_MEMBER_JOIN_TIMEOUT_S)
    assert [r.error_code for r in newcomer] == [ErrorCode.unknown_member_id]
    assert set(m.groups["g"].members) == {a, b}


def test_an_assignment_that_cannot_be_stored_makes_the_group_rebalance() -> None:
    stored: list[GroupRecord] = []
    failing = False

    def persist(record: GroupRecord) -> None:
        if failing:
            raise StoreError("disk full")
        stored.append(record)

    m = Membership(persist=persist)
    joined = one_member_group(m)
    assert stored[-1].generation_id == 1 and stored[-1].members == ()
    failing = True
    answers: list[SyncResult] = []
    m.sync(0.0, "g", 1, joined.member_id, None, None, None, [], answers.append)
    assert [a.error_code for a in answers] == [ErrorCode.coordinator_not_available]
    assert m.groups["g"].state.value == "PreparingRebalance"
