"""A synthetic live HLS origin for tests and benchmarks (a test kit shipped with the code).

One aiohttp server serves any number of live streams that slide a window over the same few
real segments (made once with ffmpeg), so hundreds of "cameras" cost almost nothing to serve:

    origin = LiveOrigin(segments=[b0, b1, b2], target_duration=2, window=3)
    origin.add_stream("cam1")                    # manual: the test calls origin.advance("cam1")
    origin.add_stream("cam2", clock=True)        # a new segment every target_duration seconds
    base = await origin.start("127.0.0.1", port) # then GET {base}/cam1/index.m3u8

Segment `n` of a stream has the bytes of `segments[n % len(segments)]`. After it leaves the
playlist it stays available for `retain` more segments, then answers 404 (deleted). RFC 8216
6.2.2 asks origins to keep a removed segment for the playlist's duration plus its own, which is
the default (`window + 1`); `retain=0` makes a strict origin that deletes at once.

Per stream a test can mark discontinuities and EXT-X-GAP, override a segment's bytes
(truncation), lose a listed segment (404), override the playlist text (malformed), make the
playlist fail with 503 (outage), end it (EXT-X-ENDLIST); and publish master playlists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class LiveStream:
    name: str
    start_sequence: int = 0
    clock: bool = False  # advance with wall time instead of advance()
    t0: float = field(default_factory=time.monotonic)
    head: int = 0  # manual mode: sequences start..start+head-1 exist
    discontinuities: set[int] = field(default_factory=set)
    gaps: set[int] = field(default_factory=set)  # EXT-X-GAP
    overrides: dict[int, bytes] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)  # listed, but answered 404
    playlist_text: str | None = None
    failing: bool = False
    ended: bool = False
    playlist_requests: int = 0
    segment_requests: int = 0


class LiveOrigin:
    def __init__(
        self,
        segments: list[bytes],
        *,
        target_duration: int = 2,
        window: int = 3,
        init: bytes | None = None,
        retain: int | None = None,
    ) -> None:
        if not segments:
            raise ValueError("LiveOrigin needs at least one segment")
        self.segments = segments
        self.target_duration = target_duration
        self.window = window
        self.retain = window + 1 if retain is None else retain
        self.init = init
        self.ext = "m4s" if init is not None else "ts"
        self.streams: dict[str, LiveStream] = {}
        self.masters: dict[str, list[tuple[str, int, str]]] = {}  # name -> (stream, bw, WxH)
        self._runner: web.AppRunner | None = None

    # -- control ---------------------------------------------------------------------------

    def add_stream(self, name: str, **kwargs: object) -> LiveStream:
        stream = LiveStream(name, **kwargs)  # type: ignore[arg-type]
        if not stream.clock and stream.head == 0:
            stream.head = 1
        self.streams[name] = stream
        return stream

    def add_master(self, name: str, variants: list[tuple[str, int, str]]) -> None:
        """`/<name>/master.m3u8` listing `(stream, bandwidth, "WxH")` variants."""
        self.masters[name] = variants

    def advance(self, name: str, count: int = 1) -> None:
        self.streams[name].head += count

    def newest(self, name: str) -> int:
        """The newest media sequence number the stream has published."""
        stream = self.streams[name]
        return stream.start_sequence + self._count(stream) - 1

    def window_of(self, name: str) -> range:
        stream = self.streams[name]
        end = stream.start_sequence + self._count(stream)
        return range(max(stream.start_sequence, end - self.window), end)

    def segment_bytes(self, name: str, sequence: int) -> bytes:
        stream = self.streams[name]
        return stream.overrides.get(sequence, self.segments[sequence % len(self.segments)])

    def _count(self, stream: LiveStream) -> int:
        if stream.clock:
            return 1 + int((time.monotonic() - stream.t0) / self.target_duration)
        return stream.head

    # -- serving ---------------------------------------------------------------------------

    def playlist(self, name: str) -> str:
        stream = self.streams[name]
        if stream.playlist_text is not None:
            return stream.playlist_text
        window = self.window_of(name)
        disc_before = sum(1 for d in stream.discontinuities if d <= window.start)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7" if self.init else "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{window.start}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{disc_before}",
        ]
        if self.init is not None:
            lines.append('#EXT-X-MAP:URI="init.mp4"')
        for seq in window:
            if seq in stream.discontinuities and seq != window.start:
                lines.append("#EXT-X-DISCONTINUITY")
            if seq == window.start or seq in stream.discontinuities:
                pdt = EPOCH + timedelta(seconds=seq * self.target_duration)
                lines.append("#EXT-X-PROGRAM-DATE-TIME:" + pdt.isoformat(timespec="milliseconds"))
            if seq in stream.gaps:
                lines.append("#EXT-X-GAP")
            lines.append(f"#EXTINF:{self.target_duration:.3f},")
            lines.append(f"{seq}.{self.ext}")
        if stream.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    async def start(self, host: str, port: int) -> str:
        app = web.Application()
        app.router.add_get("/{name}/master.m3u8", self._master)
        app.router.add_get("/{name}/index.m3u8", self._playlist)
        app.router.add_get("/{name}/init.mp4", self._init)
        app.router.add_get("/{name}/{file}", self._segment)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return f"http://{host}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _master(self, request: web.Request) -> web.Response:
        variants = self.masters.get(request.match_info["name"])
        if variants is None:
            raise web.HTTPNotFound()
        lines = ["#EXTM3U"]
        for stream, bandwidth, resolution in variants:
            lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={resolution}")
            lines.append(f"../{stream}/index.m3u8")
        return web.Response(text="\n".join(lines) + "\n")

    async def _playlist(self, request: web.Request) -> web.Response:
        stream = self.streams.get(request.match_info["name"])
        if stream is None:
            raise web.HTTPNotFound()
        stream.playlist_requests += 1
        if stream.failing:
            raise web.HTTPServiceUnavailable()
        return web.Response(
            text=self.playlist(stream.name), content_type="application/vnd.apple.mpegurl"
        )

    async def _init(self, request: web.Request) -> web.Response:
        if self.init is None or request.match_info["name"] not in self.streams:
            raise web.HTTPNotFound()
        return web.Response(body=self.init)

    async def _segment(self, request: web.Request) -> web.Response:
        stream = self.streams.get(request.match_info["name"])
        seq_text, dot, ext = request.match_info["file"].partition(".")
        if stream is None or not dot or ext != self.ext or not seq_text.isdigit():
            raise web.HTTPNotFound()
        stream.segment_requests += 1
        window = self.window_of(stream.name)
        sequence = int(seq_text)
        if sequence in stream.lost or not window.start - self.retain <= sequence < window.stop:
            raise web.HTTPNotFound()
        return web.Response(body=self.segment_bytes(stream.name, int(seq_text)))
