"""The simulated sessions as the collector receives them from real clients.

Web sessions are what the first-party tracker (`/t.js`) posts: a JSON array of its events to
`/collect?k=<write key>`, each with its `sentAt`. Mobile, desktop and voice sessions are what the
Segment SDKs send: `/v1/batch` with the write key as the basic-auth user. Events carry the time
they happened (`timestamp`, in the simulated past) and the time they are sent (now): the collector
dates them `received - (sent - timestamp)`, as it does for a client that queued them offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid
from dataclasses import dataclass

import orjson

from headwater.demo.service import Event, Session, User

SITE = "https://watch.example"
_BROWSERS = {
    "chrome-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Safari/537.36",
    "chrome-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/18.1 Safari/605.1.15",
    "firefox-linux": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "chrome-android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "safari-iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
}
_APPS = {
    "ios": ("Watch/5.2.1 (iPhone; iOS 18.1; Scale/3.00)", "analytics-ios", "iOS"),
    "android": ("Watch/5.2.1 (Linux; U; Android 14; Pixel 8 Build/AP2A)", "analytics-android",
                "Android"),
    "windows": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Watch/3.1.0 Chrome/128.0.0.0 Electron/32.1.0 Safari/537.36", "analytics-node",
                "Windows"),
    "macos": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Watch/3.1.0 Chrome/128.0.0.0 Electron/32.1.0 Safari/537.36",
              "analytics-node", "macOS"),
    "alexa": ("AlexaMediaPlayer/2.1.4676.0 (Linux;Android 5.1.1) ExoPlayerLib/1.5.9",
              "analytics-alexa-skill", "Fire OS"),
    "google-assistant": ("Mozilla/5.0 (Linux; Android 12; Nest Hub) AppleWebKit/537.36 (KHTML, "
                         "like Gecko) CrKey/1.56.500000 Chrome/120.0 Safari/537.36",
                         "analytics-google-assistant-action", "Fuchsia"),
}  # fmt: skip
_REFERRERS = (
    ("", 0.45),
    ("https://www.google.com/", 0.25),
    ("https://www.facebook.com/", 0.1),
    ("https://mail.example.org/", 0.05),
    (f"{SITE}/browse", 0.15),
)
_REFERRER_URLS = tuple(url for url, _ in _REFERRERS)
_REFERRER_WEIGHTS = tuple(weight for _, weight in _REFERRERS)
_CAMPAIGNS = (
    None,
    None,
    None,
    {"utm_source": "newsletter", "utm_medium": "email"},
    {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "winter"},
)
MAX_EVENTS_PER_REQUEST = 20  # the tracker's batch size


@dataclass(frozen=True)
class Request:
    """One HTTP POST: path (with query), headers and body, and how many events it carries."""

    path: str
    headers: dict[str, str]
    body: bytes
    events: int
    channel: str


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


class Encoder:
    """Turns sessions into requests; `now` is stamped as each request's `sentAt`."""

    def __init__(self, write_key: str, seed: int = 11) -> None:
        self.write_key = write_key
        self.rng = random.Random(seed)
        auth = base64.b64encode(f"{write_key}:".encode()).decode()
        self._segment_headers = {
            "Content-Type": "application/json",
            "Authorization": f"Basic {auth}",
        }

    def requests(self, session: Session, now: float) -> list[Request]:
        sid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        web = session.user.channel == "web"
        encode = self._tracker_event if web else self._sdk_event
        referrer = self.rng.choices(_REFERRER_URLS, _REFERRER_WEIGHTS)[0] if web else ""
        campaign = self.rng.choice(_CAMPAIGNS) if web and referrer else None
        events = [
            encode(session, e, sid, referrer if n == 0 else f"{SITE}/", campaign, now)
            for n, e in enumerate(session.events)
        ]
        out = []
        for i in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            chunk = events[i : i + MAX_EVENTS_PER_REQUEST]
            if web:
                path = f"/collect?k={self.write_key}"
                body = orjson.dumps(chunk)
                headers = {"Content-Type": "text/plain", "Origin": SITE}
            else:
                path = "/v1/batch"
                body = orjson.dumps({"batch": chunk, "sentAt": _iso(now)})
                headers = self._segment_headers
            out.append(Request(path, headers, body, len(chunk), session.user.channel))
        return out

    def _ids(self, user: User, session: Session, event: Event) -> dict[str, object]:
        ids: dict[str, object] = {"anonymousId": user.anonymous_id}
        if session.logged_in or event.kind == "identify":
            ids["userId"] = user.user_id
        return ids

    def _fields(self, event: Event) -> dict[str, object]:
        if event.kind == "track":
            return {"event": event.name}
        if event.kind == "identify":
            return {"traits": {"plan_page": "signup"}}
        return {"name": event.name}

    def _tracker_event(
        self, session: Session, event: Event, sid: str, referrer: str,
        campaign: dict[str, str] | None, now: float,
    ) -> dict[str, object]:  # fmt: skip
        user = session.user
        section = str(event.properties.get("section", "watch"))
        query = "?" + "&".join(f"{k}={v}" for k, v in campaign.items()) if campaign else ""
        page = {"url": f"{SITE}/{section}{query}", "path": f"/{section}", "search": query,
                "referrer": referrer, "title": event.name or section.title()}  # fmt: skip
        return {
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": event.kind,
            **self._fields(event),
            "timestamp": _iso(event.ts),
            "sentAt": _iso(now),
            **self._ids(user, session, event),
            "sessionId": sid,
            "properties": event.properties,
            "context": {
                "page": page,
                "userAgent": _BROWSERS[user.platform],
                "ip": user.ip,
                "campaign": _campaign(campaign),
                "sessionId": sid,
                "locale": "en-US",
                "library": {"name": "headwater.js", "version": "1"},
            },
        }

    def _sdk_event(
        self, session: Session, event: Event, sid: str, referrer: str,
        campaign: dict[str, str] | None, now: float,
    ) -> dict[str, object]:  # fmt: skip
        user = session.user
        agent, library, os_name = _APPS[user.platform]
        context: dict[str, object] = {
            "userAgent": agent,
            "ip": user.ip,
            "library": {"name": library, "version": "4.1.0"},
            "os": {"name": os_name},
            "app": {"name": "Watch", "version": "5.2.1"},
            "sessionId": sid,
        }
        if user.channel != "voice":
            context["device"] = {"type": user.platform}
        else:
            context["voice"] = True
        return {
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": event.kind,
            **self._fields(event),
            "timestamp": _iso(event.ts),
            **self._ids(user, session, event),
            "properties": event.properties,
            "context": context,
        }


def _campaign(query: dict[str, str] | None) -> dict[str, str]:
    if not query:
        return {}
    return {("name" if k == "utm_campaign" else k[4:]): v for k, v in query.items()}
