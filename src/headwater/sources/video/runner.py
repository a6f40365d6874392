"""Running every configured stream in one asyncio process until the playlists end or a stop.

Start-up creates the video topics if missing and reads the stored positions; each stream then
runs as its own task (`stream.StreamRunner`), sharing one HTTP session, one producer, one object
store and one decoding thread pool. A stream that fails restarts on its own (see `stream.py`);
the others never notice. On stop, each stream finishes the segment in hand and stores its
position first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

import aiohttp

from headwater import transport
from headwater.contracts.positions import VideoPosition
from headwater.logs import log_event
from headwater.sources import positions as position_store
from headwater.sources.video import records
from headwater.sources.video.config import StreamSpec, VideoConfig
from headwater.sources.video.publish import Publisher
from headwater.sources.video.store import ObjectStore
from headwater.sources.video.stream import Shared, StreamRunner

__all__ = ["StreamSpec", "VideoConfig", "run_video"]

logger = logging.getLogger("headwater.video")


async def run_video(
    config: VideoConfig, stop: asyncio.Event | None = None, stop_timeout_s: float = 30.0
) -> dict[str, StreamRunner]:
    """Follow every stream until each playlist ends or `stop` is set; returns the runners.

    On `stop` each stream finishes the segment in hand and stores its position; streams still
    busy after `stop_timeout_s` are cancelled (they resume from their last stored position)."""
    store = ObjectStore(config.lake)
    locks = store.lock_streams([spec.name for spec in config.streams])
    try:
        return await _run_video(config, store, stop or asyncio.Event(), stop_timeout_s)
    finally:
        for lock in locks:
            lock.release()


async def _run_video(
    config: VideoConfig, store: ObjectStore, stop: asyncio.Event, stop_timeout_s: float
) -> dict[str, StreamRunner]:
    conn = transport.connect(config.broker, client_id="headwater-video")
    positions = await asyncio.to_thread(_prepare, conn)
    publisher = Publisher(conn)
    decoder = concurrent.futures.ThreadPoolExecutor(config.decode_workers, "video-decode")
    connector = aiohttp.TCPConnector(limit=config.max_connections)
    runners: dict[str, StreamRunner] = {}
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            shared = Shared(config, session, store, publisher, decoder, stop)
            for spec in config.streams:
                runners[spec.name] = StreamRunner(spec, shared, positions.get(spec.name))
                log_event(
                    logger,
                    "stream_started",
                    stream=spec.name,
                    url=spec.url,
                    resume_from=positions[spec.name].next_sequence
                    if spec.name in positions
                    else None,
                    epoch=positions[spec.name].epoch if spec.name in positions else 0,
                )
            tasks = [asyncio.create_task(r.run_forever()) for r in runners.values()]
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
            while not stopping.done() and not all(t.done() for t in tasks):
                await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            _, pending = await asyncio.wait(tasks, timeout=stop_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        decoder.shutdown(wait=True, cancel_futures=True)
        publisher.close()
        conn.close()
    return runners


def _prepare(conn: transport.Transport) -> dict[str, VideoPosition]:
    """Create the video topics if missing and read the stored positions (blocking)."""
    with conn.admin() as admin:
        admin.create_topics(
            [transport.TopicSpec(t) for t in (records.SEGMENTS_TOPIC, records.FRAMES_TOPIC)],
            exist_ok=True,
        )
        position_store.ensure_topic(admin)
    return position_store.load_video(conn)
