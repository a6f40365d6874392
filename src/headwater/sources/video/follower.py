"""The live playlist follower: a pure state machine (RFC 8216 section 6.3), no I/O, no clock.

The caller loads the media playlist, hands it in with the current time (`on_playlist`) and gets a
`Step`: the segments to fetch and the gaps to record, in media-sequence order, and when to reload.
Load failures go to `on_error`, which answers with a backoff delay.

Rules:
1. Every media sequence number from the start position on comes out exactly once, either as a
   segment to fetch or inside a `Gap`. Nothing is skipped silently: a segment that left the
   window before we saw it (slow network, outage, a pause longer than the window) becomes a
   `Gap("left_playlist")`, a segment the origin marks with EXT-X-GAP a `Gap("gap_tag")`.
2. The position is `next_sequence`: resume a follower from the stored one and it continues
   without repeating a segment (the caller stores it only after the segments before it are safe).
3. Reload after the target duration when the playlist changed, after half of it when it did not
   (RFC 8216 6.3.4). A playlist unchanged for `stall_after` target durations is reported stalled,
   once, and then reloaded with exponential backoff up to `max_backoff_s`; a change ends the stall.
4. A playlist that ends before our position is either an origin that restarted its numbering
   (an encoder restart: `-start_number 0`) or an older copy of the playlist (a lagging cache or
   CDN edge). A restart starts a new *epoch*: a `Restart` item comes out first, `epoch` goes up
   by one, and following goes on from the new window's oldest segment; the position is then
   (epoch, next_sequence). It is a restart when the playlist cannot be an older copy:
   - its newest segment is more than a playlist window (the longer of its and ours) behind our
     position: a cache serving a copy older than a whole window is not a cache we can follow;
   - its EXT-X-DISCONTINUITY-SEQUENCE is higher than the last one we saw (older copies have
     lower or equal ones), or its newest program date-time is later than the newest we took;
   - a sequence we took from the last window is listed with another URI.
   Anything else (a drop within the window, same URIs, no newer time) is an older copy: it
   changes nothing, is reported as a `problem`, and we keep reloading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from headwater.sources.video.playlist import MediaPlaylist, MediaSegment


@dataclass(frozen=True, slots=True)
class Gap:
    """Media sequence numbers `first..last` (inclusive) that will never be fetched, and why."""

    first: int
    last: int
    reason: str  # left_playlist | gap_tag (the runner adds segment_gone, fetch_failed: ...)

    @property
    def sequences(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True, slots=True)
class Restart:
    """The origin restarted its numbering: epoch `epoch` begins at sequence `first`; the epoch
    before ended with `previous_next` as its next sequence (nothing of it is lost)."""

    epoch: int
    first: int
    previous_next: int
    reason: str


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after one playlist load."""

    items: tuple[MediaSegment | Gap | Restart, ...]  # in media-sequence order (a Restart first)
    reload_in_s: float | None  # None: the playlist ended (EXT-X-ENDLIST) and everything is out
    changed: bool
    stalled: bool = False  # true on the load that first finds the playlist stalled
    recovered: bool = False  # true on the first change after a stall
    problem: str | None = None


class Follower:
    """Follows one media playlist from `next_sequence` (None: the oldest segment in the window)
    of numbering `epoch` (0 until the origin first restarted its numbering)."""

    def __init__(
        self,
        next_sequence: int | None = None,
        *,
        epoch: int = 0,
        stall_after: float = 3.0,
        error_backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        min_reload_s: float = 0.1,
    ) -> None:
        self.next_sequence = next_sequence
        self.epoch = epoch
        self.stall_after = stall_after
        self.error_backoff_s = error_backoff_s
        self.max_backoff_s = max_backoff_s
        self.min_reload_s = min_reload_s
        self.ended = False
        self.stalled = False
        self.errors = 0  # consecutive failed loads
        self._shape: tuple[int, int, bool] | None = None
        self._changed_at: float | None = None
        self._unchanged_loads = 0
        self._target = 2.0
        # What the last playlist showed, to tell a numbering restart from an older copy (rule 4).
        self._window = 0
        self._discontinuity_sequence: int | None = None
        self._newest_time: datetime | None = None
        self._uris: dict[int, str] = {}

    def on_playlist(self, playlist: MediaPlaylist, now: float) -> Step:
        """Take one successful load of the media playlist at monotonic time `now`."""
        self.errors = 0
        self._target = max(playlist.target_duration, self.min_reload_s)
        shape = (playlist.media_sequence, len(playlist.segments), playlist.ended)
        changed = shape != self._shape
        self._shape = shape
        if self.next_sequence is None:
            self.next_sequence = playlist.media_sequence
        items: list[MediaSegment | Gap | Restart] = []
        problem = None
        if playlist.next_sequence < self.next_sequence:
            restart = self._restart_reason(playlist, self.next_sequence)
            if restart is None:
                problem = (
                    f"playlist ends at sequence {playlist.next_sequence - 1}, before our "
                    f"position {self.next_sequence}, within a window of it: an older copy of "
                    "the playlist (a lagging cache); waiting for the current one"
                )
            else:
                self.epoch += 1
                items.append(
                    Restart(self.epoch, playlist.media_sequence, self.next_sequence, restart)
                )
                self.next_sequence = playlist.media_sequence
        if problem is None:
            self._remember(playlist)
        if playlist.media_sequence > self.next_sequence:
            items.append(Gap(self.next_sequence, playlist.media_sequence - 1, "left_playlist"))
            self.next_sequence = playlist.media_sequence
        for segment in playlist.segments:
            if segment.sequence < self.next_sequence:
                continue
            if segment.gap:
                last = items[-1] if items else None
                if isinstance(last, Gap) and last.reason == "gap_tag":
                    items[-1] = Gap(last.first, segment.sequence, "gap_tag")
                else:
                    items.append(Gap(segment.sequence, segment.sequence, "gap_tag"))
            else:
                items.append(segment)
            self.next_sequence = segment.sequence + 1
        return self._schedule(tuple(items), changed, playlist.ended, now, problem)

    def _restart_reason(self, playlist: MediaPlaylist, position: int) -> str | None:
        """Why `playlist`, ending before `position`, is a numbering restart; None: an older copy."""
        newest = playlist.next_sequence - 1
        window = max(len(playlist.segments), self._window)
        if position - playlist.next_sequence > window:
            return (
                f"numbering restarted: newest sequence {newest}, more than a window ({window}) "
                f"behind our position {position}"
            )
        if (
            self._discontinuity_sequence is not None
            and playlist.discontinuity_sequence > self._discontinuity_sequence
        ):
            return (
                f"numbering restarted: discontinuity sequence {playlist.discontinuity_sequence} "
                f"after {self._discontinuity_sequence}, under lower media sequences"
            )
        times = [s.program_date_time for s in playlist.segments if s.program_date_time]
        if times and self._newest_time is not None and max(times) > self._newest_time:
            return "numbering restarted: newer program date-times under lower media sequences"
        for segment in playlist.segments:
            known = self._uris.get(segment.sequence)
            if known is not None and known != segment.uri:
                return (
                    f"numbering restarted: sequence {segment.sequence} is now {segment.uri!r}, "
                    f"was {known!r}"
                )
        return None

    def _remember(self, playlist: MediaPlaylist) -> None:
        """Keep what rule 4 compares the next playlist with (not from an older copy)."""
        self._window = len(playlist.segments)
        self._discontinuity_sequence = playlist.discontinuity_sequence
        self._uris = {s.sequence: s.uri for s in playlist.segments}
        times = [s.program_date_time for s in playlist.segments if s.program_date_time]
        if times:
            self._newest_time = max(times)

    def on_error(self) -> float:
        """A load failed (network, HTTP status, `PlaylistError`): the delay before the retry."""
        self.errors += 1
        return min(self.error_backoff_s * 2 ** min(self.errors - 1, 20), self.max_backoff_s)

    def _schedule(
        self,
        items: tuple[MediaSegment | Gap | Restart, ...],
        changed: bool,
        ended: bool,
        now: float,
        problem: str | None,
    ) -> Step:
        if ended:
            self.ended = True
            return Step(items, None, changed, problem=problem)
        stalled = recovered = False
        if changed or self._changed_at is None:
            self._changed_at = now
            self._unchanged_loads = 0
            recovered, self.stalled = self.stalled, False
            delay = self._target
        else:
            self._unchanged_loads += 1
            if not self.stalled and now - self._changed_at >= self.stall_after * self._target:
                self.stalled = stalled = True
            delay = self._target / 2
            if self.stalled:
                extra = self._unchanged_loads - self.stall_after * 2
                delay = min(delay * 2 ** min(max(0.0, extra), 20), self.max_backoff_s)
        return Step(items, max(delay, self.min_reload_s), changed, stalled, recovered, problem)
