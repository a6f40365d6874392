"""Following one live HLS stream: the I/O around `Follower` (many of these share a process).

Per stream (`StreamRunner`), in order: load the playlist (resolving a master playlist to one
variant first), let the follower decide, then for each segment fetch it, store it in the
object area, sample frames in a worker thread, and produce its `video.segments` record (and
`video.frames` records); gaps are produced as records too. After the broker acknowledged every
record of a playlist step, the position (`next_sequence` and the numbering `epoch`) goes to
`_headwater.positions`. When the origin restarts its numbering (`follower.Restart`), a restart
record is produced and the stream goes on in the new epoch (its objects named `e<epoch>-<n>`).

Failure rules:
1. A playlist that fails to load or parse is logged and reloaded with the follower's backoff.
2. A segment that cannot be fetched after its retries becomes a gap record with the error as
   its reason (404/410 at once: `segment_gone`); the stream goes on.
3. A record the broker does not acknowledge is produced again, with backoff, until it is; the
   stream does not advance meanwhile (nothing after it is recorded before it).
4. Any other exception ends that stream's task only: it is logged and the stream restarts from
   its last acknowledged position after a pause. Other streams never notice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urljoin

import aiohttp

from headwater import transport
from headwater.contracts.positions import VideoPosition
from headwater.logs import log_event
from headwater.sources.positions import video_record
from headwater.sources.video import records
from headwater.sources.video.config import StreamSpec, VideoConfig
from headwater.sources.video.fetch import FetchError, SegmentGone, fetch_with_retries
from headwater.sources.video.follower import Follower, Gap, Restart
from headwater.sources.video.frames import FrameError, sample_frames
from headwater.sources.video.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    MediaSegment,
    PlaylistError,
    parse_playlist,
)
from headwater.sources.video.publish import Publisher, PublishError
from headwater.sources.video.store import ObjectStore, frame_path, init_path, segment_path
from headwater.sources.video.variant import choose_variant

logger = logging.getLogger("headwater.video")


@dataclass
class Shared:
    """What every stream of the process uses: one of each."""

    config: VideoConfig
    session: aiohttp.ClientSession
    store: ObjectStore
    publisher: Publisher
    decoder: concurrent.futures.Executor
    stop: asyncio.Event  # set: finish the segment in hand, store the position, return


@dataclass
class StreamStats:
    stored: int = 0
    gaps: int = 0
    frames: int = 0
    bytes: int = 0
    playlist_errors: int = 0


class StreamRunner:
    """Follows one stream; `next_sequence` of `epoch` is the acknowledged position."""

    def __init__(self, spec: StreamSpec, shared: Shared, position: VideoPosition | None) -> None:
        self.spec = spec
        self.shared = shared
        self.next_sequence = position.next_sequence if position else None
        self.epoch = position.epoch if position else 0
        self.stats = StreamStats()
        self.ended = False
        self._init: tuple[str, bytes, str] | None = None  # (map URL, bytes, stored path)

    async def run_forever(self) -> None:
        """Run; restart after an unexpected failure (rule 4) until the playlist ends."""
        while not self.ended and not self.shared.stop.is_set():
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_event(
                    logger,
                    "stream_failed",
                    logging.ERROR,
                    exc_info=True,
                    stream=self.spec.name,
                    error=f"{type(exc).__name__}: {exc}",
                    restart_in_s=self.shared.config.restart_backoff_s,
                )
                await self._sleep(self.shared.config.restart_backoff_s)

    async def run(self) -> None:
        config = self.shared.config
        loop = asyncio.get_running_loop()
        follower = Follower(
            self.next_sequence,
            epoch=self.epoch,
            error_backoff_s=config.error_backoff_s,
            max_backoff_s=config.max_backoff_s,
        )
        media_url: str | None = None
        while not self.shared.stop.is_set():
            started = loop.time()
            try:
                if media_url is None:
                    media_url = await self._resolve(self.spec.url)
                playlist = await self._load(media_url)
            except (FetchError, PlaylistError) as exc:
                self.stats.playlist_errors += 1
                delay = follower.on_error()
                if follower.errors % 3 == 0:
                    media_url = None  # a master playlist may have moved its variants
                log_event(
                    logger,
                    "playlist_error",
                    logging.WARNING,
                    stream=self.spec.name,
                    url=media_url or self.spec.url,
                    error=str(exc),
                    attempt=follower.errors,
                    retry_in_s=delay,
                )
                await self._sleep(delay)
                continue
            step = follower.on_playlist(playlist, loop.time())
            if step.stalled:
                log_event(
                    logger,
                    "playlist_stalled",
                    logging.WARNING,
                    stream=self.spec.name,
                    url=media_url,
                    next_sequence=follower.next_sequence,
                )
            if step.recovered:
                log_event(logger, "playlist_recovered", stream=self.spec.name, url=media_url)
            if step.problem:
                log_event(
                    logger,
                    "playlist_problem",
                    logging.WARNING,
                    stream=self.spec.name,
                    url=media_url,
                    problem=step.problem,
                )
            done = 0
            for item in step.items:
                if self.shared.stop.is_set():
                    break
                await self._handle(item, media_url)
                done += 1
            if done:
                await self._publish(
                    [video_record(self.spec.name, self.next_sequence or 0, self.epoch)]
                )
            if done < len(step.items):
                return  # stopping: the rest comes again after a restart
            if step.reload_in_s is None:
                self.ended = True
                log_event(
                    logger,
                    "playlist_ended",
                    stream=self.spec.name,
                    url=media_url,
                    next_sequence=self.next_sequence,
                )
                return
            await self._sleep(max(0.0, started + step.reload_in_s - loop.time()))

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the process is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.shared.stop.wait(), seconds)

    async def _resolve(self, url: str) -> str:
        """The media playlist URL: `url` itself, or the variant a master playlist offers."""
        playlist = parse_playlist(await self._text(url))
        if isinstance(playlist, MediaPlaylist):
            return url
        variant = choose_variant(playlist, self.spec.variant)
        chosen = urljoin(url, variant.uri)
        log_event(
            logger,
            "variant_chosen",
            stream=self.spec.name,
            url=chosen,
            bandwidth=variant.bandwidth,
            resolution=variant.resolution,
            policy=self.spec.variant,
        )
        return chosen

    async def _load(self, url: str) -> MediaPlaylist:
        playlist = parse_playlist(await self._text(url))
        if isinstance(playlist, MasterPlaylist):
            raise PlaylistError(f"{url}: expected a media playlist, got a master playlist")
        return playlist

    async def _text(self, url: str) -> str:
        body = await fetch_with_retries(self.shared.session, url, self.shared.config.playlist_fetch)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PlaylistError(f"{url}: not UTF-8 ({exc})") from None

    async def _handle(self, item: MediaSegment | Gap | Restart, media_url: str) -> None:
        if isinstance(item, Restart):
            await self._record_restart(item, media_url)
            return
        if isinstance(item, Gap):
            await self._record_gap(item.sequences, item.reason)
            return
        uri = urljoin(media_url, item.uri)
        shared = self.shared
        try:
            body = await fetch_with_retries(shared.session, uri, shared.config.segment_fetch, True)
            init = await self._init_section(item, media_url)
        except FetchError as exc:
            reason = "segment_gone" if isinstance(exc, SegmentGone) else f"fetch_failed: {exc}"
            log_event(
                logger,
                "segment_missing",
                logging.WARNING,
                stream=self.spec.name,
                sequence=item.sequence,
                reason=reason,
            )
            await self._record_gap(range(item.sequence, item.sequence + 1), reason, item, uri)
            return
        fetched_at = datetime.now(UTC)
        day = (item.program_date_time or fetched_at).astimezone(UTC).date()
        ext = "m4s" if item.map_uri else "ts"
        relpath = segment_path(self.spec.name, day, item.sequence, ext, self.epoch)
        path, checksum = await asyncio.to_thread(_store_and_hash, shared.store, relpath, body)
        batch = [
            records.segment_record(
                self.spec.name,
                item,
                uri=uri,
                size=len(body),
                checksum=checksum,
                path=path,
                init_path=init[1] if init else None,
                fetched_at=fetched_at,
                epoch=self.epoch,
            )
        ]
        if shared.config.frames is not None:
            batch += await self._frames(item, body, init[0] if init else None, day)
        await self._publish(batch)
        self.stats.stored += 1
        self.stats.bytes += len(body)
        self.next_sequence = item.sequence + 1

    async def _init_section(self, item: MediaSegment, media_url: str) -> tuple[bytes, str] | None:
        """The fMP4 initialisation section in force, fetched and stored once per URI."""
        if item.map_uri is None:
            return None
        url = urljoin(media_url, item.map_uri)
        if self._init is None or self._init[0] != url:
            data = await fetch_with_retries(
                self.shared.session, url, self.shared.config.segment_fetch
            )
            day = (item.program_date_time or datetime.now(UTC)).astimezone(UTC).date()
            relpath = init_path(self.spec.name, day, item.sequence, self.epoch)
            path = await asyncio.to_thread(self.shared.store.put, relpath, data)
            self._init = (url, data, path)
        return self._init[1], self._init[2]

    async def _frames(
        self, item: MediaSegment, body: bytes, init: bytes | None, day: date
    ) -> list[transport.GroupRecord]:
        sampling = self.shared.config.frames
        assert sampling is not None
        loop = asyncio.get_running_loop()
        try:
            frames = await loop.run_in_executor(
                self.shared.decoder, sample_frames, body, sampling, init
            )
        except FrameError as exc:
            log_event(
                logger,
                "frames_failed",
                logging.WARNING,
                stream=self.spec.name,
                sequence=item.sequence,
                error=str(exc),
            )
            return []
        out = []
        for frame in frames:
            relpath = frame_path(
                self.spec.name, day, item.sequence, frame.index, sampling.ext, self.epoch
            )
            path = await asyncio.to_thread(self.shared.store.put, relpath, frame.data)
            out.append(
                records.frame_record(self.spec.name, item, frame, sampling.format, path, self.epoch)
            )
        self.stats.frames += len(out)
        return out

    async def _record_gap(
        self,
        sequences: range,
        reason: str,
        segment: MediaSegment | None = None,
        uri: str | None = None,
    ) -> None:
        batch = [
            records.gap_record(self.spec.name, s, reason, segment, uri, self.epoch)
            for s in sequences
        ]
        log_event(
            logger,
            "gap",
            logging.WARNING,
            stream=self.spec.name,
            first=sequences[0],
            last=sequences[-1],
            reason=reason,
        )
        await self._publish(batch)
        self.stats.gaps += len(sequences)
        self.next_sequence = sequences[-1] + 1

    async def _record_restart(self, item: Restart, media_url: str) -> None:
        """The origin restarted its numbering: say so on video.segments, then follow the new
        epoch (the position stored after this step carries it)."""
        log_event(
            logger,
            "numbering_restarted",
            logging.WARNING,
            stream=self.spec.name,
            epoch=item.epoch,
            first=item.first,
            previous_next_sequence=item.previous_next,
            reason=item.reason,
        )
        record = records.restart_record(
            self.spec.name, item.epoch, item.first, item.previous_next, item.reason, media_url
        )
        await self._publish([record])
        self._init = None  # a restarted encoder writes its initialisation section anew
        self.epoch = item.epoch
        self.next_sequence = item.first

    async def _publish(self, batch: Sequence[transport.GroupRecord]) -> None:
        """Until acknowledged (rule 3)."""
        delay = self.shared.config.error_backoff_s
        while True:
            try:
                await self.shared.publisher.send(batch)
                return
            except PublishError as exc:
                log_event(
                    logger,
                    "publish_failed",
                    logging.WARNING,
                    stream=self.spec.name,
                    error=str(exc),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)  # not _sleep: a stop must not drop this batch
                delay = min(delay * 2, self.shared.config.max_backoff_s)


def _store_and_hash(store: ObjectStore, relpath: str, body: bytes) -> tuple[str, str]:
    """Write and checksum in one worker-thread call: neither blocks the event loop."""
    return store.put(relpath, body), "sha256:" + hashlib.sha256(body).hexdigest()
