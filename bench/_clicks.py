"""Enriched ClickEvents as the collector writes them to `clickstream.events` (~900 bytes each).

Deterministic per index: event ids are UUID-shaped, sessions and users repeat, a third of the
events are video plays, user agents and referrers vary, `properties` carry a few keys, so the
values look like production traffic to the JSON parser (same keys, realistic string lengths).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

BASE_TS = 1_764_115_200_000  # 2025-11-26T00:00:00Z
_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
)
_PARSED = (
    ("Chrome", "131.0.0", "Windows", "10", "desktop"),
    ("Mobile Safari", "17.6", "iOS", "17.6", "mobile"),
    ("Safari", "17.6", "Mac OS X", "14.6.1", "desktop"),
)
_REFERRERS = (
    ("https://www.google.com/", "search", "google"),
    ("https://mail.google.com/mail/u/0/", "email", "google"),
    ("https://t.co/a8Bc9dEf", "social", "twitter"),
    (None, "direct", None),
)
_PAGES = ("/", "/catalog/shoes", "/catalog/shoes/trail-runner-2", "/cart", "/videos/spring-launch")


def click_event(i: int) -> dict[str, Any]:
    """Event number `i`: 20 events a session, 2,000 sessions, a tenth of a second apart."""
    ts = BASE_TS + i * 100
    ua = i % len(_UAS)
    browser, browser_version, os_name, os_version, device = _PARSED[ua]
    ref_url, medium, source = _REFERRERS[i % len(_REFERRERS)]
    path = _PAGES[i % len(_PAGES)]
    video = i % 3 == 1
    user = i % 7
    return {
        "event_id": str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128), version=4)),
        "event": "track:video_play" if video else "page",
        "channel": "mobile" if device == "mobile" else "web",
        "client_ts": ts - 2_150,
        "sent_ts": ts - 40,
        "received_ts": ts,
        "ts": ts - 2_110,
        "user_id": f"user-{(i // 20) % 5000:05d}" if user else None,
        "anonymous_id": f"anon-{(i // 20) % 20000:08x}",
        "session_id": f"sess-{(i // 20) % 2000:06d}",
        "request": {
            "url": f"https://shop.example.com{path}?utm_campaign=spring_{i % 12}",
            "path": path,
            "method": "GET",
            "name": path.rsplit("/", 1)[-1] or "home",
            "page_id": f"page-{i % 500}",
            "video_id": f"video-{i % 40}" if video else None,
            "properties": {"title": "Spring", "position": i % 17}
            if not video
            else {"position_s": i % 300, "quality": "1080p"},
        },
        "user_agent": {
            "raw": _UAS[ua],
            "browser": browser,
            "browser_version": browser_version,
            "os": os_name,
            "os_version": os_version,
            "device_type": device,
            "app": None,
        },
        "ip": f"203.0.{i % 256}.0",
        "geo": {"country": ("DE", "FR", "US", "GB")[i % 4]},
        "referrer": {"url": ref_url, "medium": medium, "source": source},
        "campaign": {
            "source": "newsletter",
            "medium": "email",
            "name": f"spring_{i % 12}",
        },
        "traits": {} if user else {"plan": "pro", "signup_ts": BASE_TS - 86_400_000},
        "is_bot": False,
    }


def click_value(i: int) -> bytes:
    return orjson.dumps(click_event(i))
