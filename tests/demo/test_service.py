"""The simulated streaming service: deterministic, in time order, and with the churn signal the
demo's model is meant to find (activity falls before a cancellation)."""

from __future__ import annotations

from headwater.demo.service import DAY_S, PLANS, Service

START = 1_700_000_000.0


def run(users: int = 400, days: int = 28, seed: int = 7) -> tuple[Service, list]:
    service = Service(users, days, START, seed=seed)
    initial = service.initial_rows()
    return service, [initial, *(service.day(d) for d in range(days))]


def test_same_seed_same_history_and_another_seed_another() -> None:
    _, a = run()
    _, b = run()
    _, c = run(seed=8)
    assert [d.changes for d in a[1:]] == [d.changes for d in b[1:]]
    assert [d.changes for d in a[1:]] != [d.changes for d in c[1:]]


def test_changes_follow_a_subscription_lifecycle_in_time_order() -> None:
    _, (initial, *days) = run()
    plan: dict[str, str] = {c.user_id: c.plan for c in initial}
    cancelled: set[str] = set()
    assert all(c.ts < START for c in initial)
    kinds = {"subscribe": 0, "upgrade": 0, "cancel": 0}
    for d, day in enumerate(days):
        stamps = [c.ts for c in day.changes]
        assert stamps == sorted(stamps)
        assert all(START + d * DAY_S <= t < START + (d + 1) * DAY_S + DAY_S for t in stamps)
        for c in day.changes:
            kinds[c.kind] += 1
            assert c.plan in PLANS
            assert c.user_id not in cancelled, "no change after a cancellation"
            if c.kind == "subscribe":
                assert c.user_id not in plan
            else:
                assert c.user_id in plan
            if c.kind == "cancel":
                cancelled.add(c.user_id)
            plan[c.user_id] = c.plan
    assert all(n > 0 for n in kinds.values()), kinds


def test_sessions_are_ordered_and_logged_in_only_for_customers() -> None:
    _, (_, *days) = run()
    for day in days:
        firsts = [s.events[0].ts for s in day.sessions]
        assert firsts == sorted(firsts)
        for session in day.sessions:
            stamps = [e.ts for e in session.events]
            assert stamps == sorted(stamps)
            if not session.logged_in:
                assert not any(e.name.startswith("Video") for e in session.events)


def test_activity_falls_in_the_week_before_a_cancellation() -> None:
    """The churn signal: sessions per subscriber-day in the 7 days before cancelling are far
    fewer than those of the subscribers who stay, counted over the same days."""
    _, (initial, *days) = run(users=1500, days=35)
    cancel_day = {c.user_id: d for d, day in enumerate(days) for c in day.changes
                  if c.kind == "cancel"}  # fmt: skip
    customers = {c.user_id for c in initial}
    before, stayers = [], []
    for d, day in enumerate(days):
        customers |= {c.user_id for c in day.changes if c.kind == "subscribe"}
        per_user: dict[str, int] = {}
        for s in day.sessions:
            per_user[s.user.user_id] = per_user.get(s.user.user_id, 0) + 1
        for uid in customers:
            when = cancel_day.get(uid)
            if when is None:
                stayers.append(per_user.get(uid, 0))
            elif when - 7 <= d < when:
                before.append(per_user.get(uid, 0))
    assert len(before) > 100
    assert sum(before) / len(before) < 0.6 * (sum(stayers) / len(stayers))
