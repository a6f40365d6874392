"""The simulated video-streaming service: users, their subscriptions and what they do each day.

A pure model (seeded, no I/O): `Service.day(d)` returns the day's subscription changes and
clickstream sessions, in time order. Its behaviour is what the churn model is meant to find:
each subscriber has an engagement level; a subscriber about to cancel first loses interest (fewer
sessions, fewer videos) over the days before the cancellation, and engaged users upgrade. So
recent activity and the plan, as they were at a point in time, predict churn in the next week.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

PLANS = {"basic": "7.99", "standard": "12.99", "premium": "17.99"}
UPGRADE = {"basic": "standard", "standard": "premium"}
CHANNELS = ("web", "mobile", "desktop", "voice")
CHANNEL_WEIGHTS = (0.45, 0.33, 0.13, 0.09)
DAY_S = 86_400


@dataclass
class User:
    """One person, logged in as `user_id` once subscribed (anonymous before)."""

    user_id: str
    anonymous_id: str
    channel: str
    engagement: float
    platform: str  # the browser, phone or desktop OS, or the assistant
    ip: str
    signup_day: int | None  # None: subscribed before the simulation (initial rows)
    plan: str | None = None
    cancel_day: int | None = None  # chosen when the user starts losing interest
    cancelled: bool = False


@dataclass(frozen=True)
class Change:
    """One subscription change, executed in the database at `ts` (seconds)."""

    ts: float
    user_id: str
    kind: str  # subscribe, upgrade, cancel
    plan: str


@dataclass(frozen=True)
class Event:
    """One interaction: a page/screen view or a tracked event."""

    ts: float
    kind: str  # page, screen, track, identify
    name: str
    properties: dict[str, object]


@dataclass(frozen=True)
class Session:
    """A visit of one user through one channel: events seconds apart."""

    user: User
    logged_in: bool
    events: tuple[Event, ...]


@dataclass
class Day:
    changes: list[Change] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(len(s.events) for s in self.sessions)


_PLATFORMS = {
    "web": ("chrome-windows", "chrome-mac", "safari-mac", "firefox-linux", "chrome-android",
            "safari-iphone"),
    "mobile": ("ios", "android"),
    "desktop": ("windows", "macos"),
    "voice": ("alexa", "google-assistant"),
}  # fmt: skip
_TITLES = 400
_SECTIONS = ("home", "browse", "search", "my-list", "account")


class Service:
    """`users` people over `days` days from `start` (epoch seconds, a midnight UTC)."""

    def __init__(self, users: int, days: int, start: float, seed: int = 7) -> None:
        self.days = days
        self.start = start
        self.rng = random.Random(seed)
        rng = self.rng
        self.users: list[User] = []
        for n in range(users):
            channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
            existing = rng.random() < 0.55
            self.users.append(
                User(
                    user_id=f"u{n:05d}",
                    anonymous_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    channel=channel,
                    engagement=rng.gammavariate(2.0, 0.5),
                    platform=rng.choice(_PLATFORMS[channel]),
                    ip=".".join(str(rng.randint(1, 223)) for _ in range(4)),
                    signup_day=None if existing else rng.randrange(0, days - 7),
                    plan=rng.choice(list(PLANS)) if existing else None,
                )
            )

    def initial_rows(self) -> list[Change]:
        """The subscriptions that exist before the simulation (the snapshot reads them)."""
        rng = self.rng
        return [
            Change(self.start - rng.uniform(1, 45) * DAY_S, u.user_id, "subscribe", u.plan)
            for u in self.users
            if u.plan is not None
        ]

    def day(self, d: int) -> Day:
        """What happens on day `d` (0-based), changes and sessions each in time order."""
        rng = self.rng
        out = Day()
        base = self.start + d * DAY_S
        for user in self.users:
            if user.signup_day == d:
                out.sessions.append(self._session(user, base, logged_in=False, signup=True))
                user.plan = rng.choices(list(PLANS), (0.5, 0.35, 0.15))[0]
                at = out.sessions[-1].events[-1].ts + 1
                out.changes.append(Change(at, user.user_id, "subscribe", user.plan))
                continue
            if user.plan is None:  # not a customer yet: an occasional anonymous visit
                if rng.random() < 0.08:
                    out.sessions.append(self._session(user, base, logged_in=False))
                continue
            if user.cancelled:
                if rng.random() < 0.03:
                    out.sessions.append(self._session(user, base, logged_in=True))
                continue
            out.sessions.extend(self._active_day(user, d, base, out))
        out.changes.sort(key=lambda c: c.ts)
        out.sessions.sort(key=lambda s: s.events[0].ts)
        return out

    def _active_day(self, user: User, d: int, base: float, out: Day) -> list[Session]:
        rng = self.rng
        if user.cancel_day is None and rng.random() < 0.012 + 0.02 / (0.3 + user.engagement):
            user.cancel_day = d + rng.randint(4, 10)  # losing interest from today
        interest = user.engagement
        if user.cancel_day is not None:
            left = user.cancel_day - d
            interest *= max(0.05, left / 12)
            if left <= 0:
                user.cancelled = True
                out.changes.append(Change(base + rng.uniform(8, 22) * 3600, user.user_id,
                                          "cancel", user.plan or "basic"))  # fmt: skip
                return []
        elif user.plan in UPGRADE and rng.random() < 0.006 * user.engagement:
            user.plan = UPGRADE[user.plan]
            out.changes.append(Change(base + rng.uniform(8, 22) * 3600, user.user_id,
                                      "upgrade", user.plan))  # fmt: skip
        sessions = []
        if rng.random() < min(0.95, 0.45 * interest):
            for _ in range(1 + (rng.random() < 0.3 * interest)):
                sessions.append(self._session(user, base, logged_in=True, interest=interest))
        return sessions

    def _session(
        self,
        user: User,
        base: float,
        logged_in: bool,
        interest: float = 0.5,
        signup: bool = False,
    ) -> Session:
        rng = self.rng
        t = base + rng.uniform(6, 23) * 3600
        events: list[Event] = []
        screen = "screen" if user.channel in ("mobile", "desktop") else "page"
        for _ in range(1 + rng.randrange(1 + int(3 * interest))):
            section = rng.choice(_SECTIONS)
            events.append(Event(t, screen, section.title(), {"section": section}))
            t += rng.uniform(5, 90)
        for _ in range(rng.randrange(1 + int(2.5 * interest)) if logged_in else 0):
            video = f"v{rng.randrange(_TITLES):04d}"
            if user.channel == "web":
                events.append(Event(t, "track", "click", {"text": "Play", "tag": "button"}))
            events.append(Event(t + 0.5, "track", "Video Playback Started", {"video_id": video}))
            t += rng.uniform(300, 2400) * min(1.5, interest + 0.2)
            events.append(Event(t, "track", "Video Playback Completed", {"video_id": video}))
            t += rng.uniform(5, 60)
        if signup:
            events.append(Event(t, "page", "Signup", {"section": "signup"}))
            events.append(Event(t + 20, "identify", "", {}))
        return Session(user, logged_in, tuple(events))
