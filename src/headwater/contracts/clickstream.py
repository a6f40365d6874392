"""The enriched clickstream event: what the collector writes to `clickstream.events` and the lake
sink lands in `clickstream_events` (DESIGN.md, "Clickstream event (after enrichment)").

One JSON object per record, its keys in the order of `ClickEvent`. Times are integer milliseconds
since the Unix epoch (UTC), marked `EpochMs` so the Arrow schema (`contracts.arrow`, derived from
these types) stores them as UTC timestamps; plain `dict[str, Any]` fields are free-form objects
kept as JSON text in the lake. Adding a field here adds the lake column: change both ends at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

Channel = Literal["web", "mobile", "desktop", "voice"]
Medium = Literal["search", "social", "email", "paid", "internal", "direct", "other"]
DeviceType = Literal["desktop", "mobile", "tablet", "tv", "speaker", "bot", "other"]

#: Marks an int of epoch milliseconds (the lake stores it as a UTC timestamp).
EPOCH_MS = "headwater.epoch_ms"
EpochMs = Annotated[int, EPOCH_MS]
#: A free-form JSON object (the lake keeps its text).
JsonObject = dict[str, Any]


class RequestDetails(TypedDict):
    url: str | None
    path: str | None
    method: str | None  # HTTP method of the page request when known (the tracker: "GET")
    name: str | None  # page or screen name
    page_id: str | None
    video_id: str | None
    properties: JsonObject


class ParsedUserAgent(TypedDict):
    raw: str | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: DeviceType
    app: str | None  # app name for native apps (e.g. "MyApp/3.2 (iPhone; iOS 17)")


class Geo(TypedDict):
    country: str | None  # ISO 3166-1 alpha-2 ("DE"), None when unknown or not resolved


class Referrer(TypedDict):
    url: str | None
    medium: Medium
    source: str | None  # "google", "facebook", the referring host, ...


class Campaign(TypedDict, total=False):
    """utm_* values without the prefix (Segment's `context.campaign`), present when given; other
    utm_* parameters keep their own name (`id` for utm_id) and become new lake columns."""

    source: str
    medium: str
    name: str  # utm_campaign
    term: str
    content: str


class ClickEvent(TypedDict):
    """The record written to `clickstream.events`.

    The top-level dict is the writer's own; the collector shares `user_agent`, `geo`, `referrer`
    and `campaign` between records (read-only, cached per distinct value): `.copy()` one before
    changing it."""

    event_id: str  # UUID, the deduplication key
    event: str  # "page" | "screen" | "identify" | "track:<name>"
    channel: Channel
    client_ts: EpochMs | None  # when it happened, client clock
    sent_ts: EpochMs | None  # when the client sent it, client clock
    received_ts: EpochMs
    ts: EpochMs  # corrected: received - (sent - client); received when the client gave no clock
    user_id: str | None
    anonymous_id: str | None
    session_id: str | None
    request: RequestDetails
    user_agent: ParsedUserAgent
    ip: str | None  # anonymised per policy
    geo: Geo
    referrer: Referrer
    campaign: Campaign
    traits: JsonObject  # identify traits
    is_bot: bool
