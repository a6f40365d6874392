"""Collector settings, one typed value object."""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.contracts.topics import CLICKSTREAM_EVENTS, CLICKSTREAM_INVALID
from headwater.sources.clickstream.enrich import EnrichConfig
from headwater.sources.clickstream.parse import ParseLimits


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    broker: str = "embedded"
    #: write key -> source name. Requests without a known key get 401.
    write_keys: dict[str, str] = field(default_factory=lambda: {"dev": "dev"})
    #: Origins allowed to call the collector from a browser ("*" for any).
    cors_origins: tuple[str, ...] = ("*",)
    #: Answer after the broker acknowledged (True) or as soon as events are queued (False).
    ack_before_response: bool = True
    #: How long a request waits for the broker's acknowledgement before answering 202 (pending).
    ack_timeout_s: float = 5.0
    #: How long the producer keeps retrying a record (idempotently) before giving it up; must
    #: exceed `ack_timeout_s`, so that no record is given up while its request still waits.
    delivery_timeout_s: float = 120.0
    #: Records the producer may hold; a request that does not fit whole is answered 503 at once.
    queue_max_events: int = 100_000
    retry_after_s: int = 5
    dedup_window_s: int = 600
    #: Paths, configurable so a site can serve them from its own domain past ad-blockers.
    tracker_path: str = "/t.js"
    collect_path: str = "/collect"
    pixel_path: str = "/p.gif"
    session_cookie: str = "hw_sid"
    anonymous_cookie: str = "hw_aid"
    session_timeout_s: int = 30 * 60
    trust_forwarded_for: bool = False
    events_topic: str = CLICKSTREAM_EVENTS
    invalid_topic: str = CLICKSTREAM_INVALID
    limits: ParseLimits = field(default_factory=ParseLimits)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)

    def __post_init__(self) -> None:
        if not 0 < self.ack_timeout_s < self.delivery_timeout_s:
            raise ValueError(
                f"delivery timeout ({self.delivery_timeout_s:g}s) must exceed the acknowledgement "
                f"wait ({self.ack_timeout_s:g}s), which must be > 0"
            )
        if self.queue_max_events < 1:
            raise ValueError(f"queue_max_events must be >= 1: {self.queue_max_events}")
