"""Fetching over real HTTP: retries where they help, clear errors for cut and broken bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from headwater.sources.video.fetch import (
    FetchPolicy,
    HttpStatusError,
    SegmentGone,
    TransportFailure,
    TruncatedSegment,
    check_segment,
    fetch_with_retries,
)
from tests.conftest import free_port

FAST = FetchPolicy(connect_timeout_s=2, read_timeout_s=2, total_timeout_s=5, retries=2, backoff_s=0)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def test_server_errors_are_retried_then_the_body_returned(
    session: aiohttp.ClientSession, ts_segments: list[bytes]
) -> None:
    calls = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503) if calls < 3 else web.Response(body=ts_segments[0])

    app = web.Application()
    app.router.add_get("/s.ts", flaky)
    runner, base = await serve(app)
    try:
        assert await fetch_with_retries(session, f"{base}/s.ts", FAST, check=True) == ts_segments[0]
        assert calls == 3
        calls = -10  # more failures than retries
        with pytest.raises(HttpStatusError, match="HTTP 503"):
            await fetch_with_retries(session, f"{base}/s.ts", FAST)
        assert calls == -7  # one try and two retries
    finally:
        await runner.cleanup()


async def test_a_deleted_segment_is_gone_at_once_without_retries(
    session: aiohttp.ClientSession,
) -> None:
    calls = 0

    async def gone(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/s.ts", gone)
    runner, base = await serve(app)
    try:
        with pytest.raises(SegmentGone):
            await fetch_with_retries(session, f"{base}/s.ts", FAST)
        assert calls == 1
    finally:
        await runner.cleanup()


async def test_a_connection_cut_before_content_length_is_a_truncated_segment(
    session: aiohttp.ClientSession, ts_segments: list[bytes]
) -> None:
    body = ts_segments[0]

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        writer.write(body[: len(body) // 2])
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(cut, "127.0.0.1", port)
    try:
        with pytest.raises(TruncatedSegment, match="cut short"):
            await fetch_with_retries(session, f"http://127.0.0.1:{port}/s.ts", FAST)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_silent_server_times_out(session: aiohttp.ClientSession) -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # never answers

    port = free_port()
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    policy = FetchPolicy(read_timeout_s=0.2, total_timeout_s=0.5, retries=0)
    try:
        with pytest.raises(TransportFailure, match="timed out"):
            await fetch_with_retries(session, f"http://127.0.0.1:{port}/s.ts", policy)
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_nobody_listening_is_a_transport_failure(session: aiohttp.ClientSession) -> None:
    with pytest.raises(TransportFailure, match="ClientConnectorError"):
        await fetch_with_retries(session, f"http://127.0.0.1:{free_port()}/s.ts", FAST)


def test_whole_segments_pass_the_framing_check(
    ts_segments: list[bytes], fmp4_segments: tuple[bytes, list[bytes]]
) -> None:
    init, fragments = fmp4_segments
    for body in [*ts_segments, init, *fragments]:
        check_segment("u", body)


def test_truncated_mpeg_ts_and_mp4_bodies_are_named(
    ts_segments: list[bytes], fmp4_segments: tuple[bytes, list[bytes]]
) -> None:
    ts = ts_segments[0]
    with pytest.raises(TruncatedSegment, match="not a whole number of 188-byte packets"):
        check_segment("u", ts[:-100])
    with pytest.raises(TruncatedSegment, match="0x47 sync byte"):
        check_segment("u", ts[:188] + b"\x00" * 188)
    fragment = fmp4_segments[1][0]
    with pytest.raises(TruncatedSegment, match="MP4: box"):
        check_segment("u", fragment[:-10])
    with pytest.raises(TruncatedSegment, match="empty body"):
        check_segment("u", b"")
    with pytest.raises(TruncatedSegment, match="neither MPEG-TS nor MP4"):
        check_segment("u", b"<html>oops</html>")
