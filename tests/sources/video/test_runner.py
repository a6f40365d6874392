"""The runner end to end against a real broker and a live origin the test drives step by step.

The origin (`headwater.sources.video.testing.LiveOrigin`) publishes segments only when the test
advances it, so every case is deterministic: the test waits on conditions, never on time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest

from headwater import transport
from headwater.contracts.positions import VideoPosition
from headwater.sources.positions import load_video
from headwater.sources.video.fetch import FetchPolicy
from headwater.sources.video.frames import FrameSampling
from headwater.sources.video.runner import StreamSpec, VideoConfig, run_video
from tests.conftest import BrokerProcess
from tests.kit.waiting import wait_until_async
from tests.sources.video.conftest import read_values

QUICK = FetchPolicy(
    connect_timeout_s=2, read_timeout_s=2, total_timeout_s=5, retries=1, backoff_s=0
)


def config(broker: BrokerProcess, lake: Path, *streams: StreamSpec, **kw: object) -> VideoConfig:
    return VideoConfig(
        broker=broker.bootstrap,
        lake=str(lake),
        streams=streams,
        segment_fetch=QUICK,
        error_backoff_s=0.1,
        max_backoff_s=0.5,
        decode_workers=1,
        **kw,  # type: ignore[arg-type]
    )


def stored(lake: Path, stream: str, sequence: int, ext: str = "ts") -> bool:
    return any(lake.glob(f"{stream}/*/{sequence}.{ext}"))


async def test_every_segment_stored_byte_exact_in_order_and_restart_repeats_none(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=3)
    origin.add_stream("cam1", head=3)
    lake = tmp_path / "lake"
    cfg = config(broker, lake, StreamSpec("cam1", f"{base}/cam1/index.m3u8"))

    async def follow_until(newest: int) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_video(cfg, stop))
        while origin.newest("cam1") < newest:
            await wait_until_async(
                lambda: stored(lake, "cam1", origin.newest("cam1")), 30, "caught up"
            )
            origin.advance("cam1", 2)
        await wait_until_async(lambda: stored(lake, "cam1", newest), 30, f"segment {newest} stored")
        stop.set()
        await asyncio.wait_for(task, 30)

    await follow_until(6)
    assert load_video(transport.connect(broker.bootstrap)) == {"cam1": VideoPosition(7, epoch=0)}
    await follow_until(10)  # a second process resumes from the stored position

    values = read_values(broker.bootstrap, "video.segments")
    assert [v["sequence"] for v in values] == list(range(11))  # in order, none repeated
    for v in values:
        body = origin.segment_bytes("cam1", v["sequence"])
        assert v["status"] == "stored" and v["bytes"] == len(body)
        assert v["checksum"] == "sha256:" + hashlib.sha256(body).hexdigest()
        assert Path(v["path"]).read_bytes() == body
        assert v["path"].endswith(f"cam1/2026-01-01/{v['sequence']}.ts")
        assert v["program_date_time"].startswith("2026-01-01T00:00:")
    assert load_video(transport.connect(broker.bootstrap)) == {"cam1": VideoPosition(11, epoch=0)}


async def test_an_outage_longer_than_the_window_is_recorded_as_a_gap_with_its_numbers(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes], caplog
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=3)
    stream = origin.add_stream("cam1", head=3)  # 0..2
    lake = tmp_path / "lake"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_video(config(broker, lake, StreamSpec("cam1", f"{base}/cam1/index.m3u8")), stop)
    )
    await wait_until_async(lambda: stored(lake, "cam1", 2), 30, "first window stored")
    stream.failing = True  # the playlist answers 503
    origin.advance("cam1", 5)  # window 5..7: 3 and 4 come and go unseen
    failed_from = stream.playlist_requests
    await wait_until_async(
        lambda: stream.playlist_requests >= failed_from + 3, 30, "failed reloads"
    )
    stream.failing = False
    await wait_until_async(lambda: stored(lake, "cam1", 7), 30, "caught up after the outage")
    stop.set()
    await asyncio.wait_for(task, 30)

    values = read_values(broker.bootstrap, "video.segments")
    assert [(v["sequence"], v["status"], v["gap_reason"]) for v in values] == [
        (0, "stored", None),
        (1, "stored", None),
        (2, "stored", None),
        (3, "gap", "left_playlist"),
        (4, "gap", "left_playlist"),
        (5, "stored", None),
        (6, "stored", None),
        (7, "stored", None),
    ]
    events = [getattr(r, "event", "") for r in caplog.records]
    assert "playlist_error" in events and "gap" in events


async def test_discontinuity_gap_tag_lost_and_truncated_segments_are_recorded(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=8)
    stream = origin.add_stream("cam1", head=6, ended=True)
    stream.discontinuities.add(2)
    stream.gaps.add(3)
    stream.overrides[4] = ts_segments[0][:-100]  # cut mid-packet on the origin
    stream.lost.add(1)  # listed, but the origin answers 404
    lake = tmp_path / "lake"
    await asyncio.wait_for(
        run_video(config(broker, lake, StreamSpec("cam1", f"{base}/cam1/index.m3u8"))), 60
    )  # returns by itself: the playlist has EXT-X-ENDLIST

    values = {v["sequence"]: v for v in read_values(broker.bootstrap, "video.segments")}
    assert sorted(values) == [0, 1, 2, 3, 4, 5]
    assert [values[s]["discontinuity"] for s in range(6)] == [
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert [values[s]["discontinuity_sequence"] for s in (0, 1, 2, 5)] == [0, 0, 1, 1]
    assert (values[1]["status"], values[1]["gap_reason"]) == ("gap", "segment_gone")
    assert values[3]["status"] == "gap" and values[3]["gap_reason"] == "gap_tag"
    assert values[4]["status"] == "gap"
    assert "not a whole number of 188-byte packets" in values[4]["gap_reason"]
    assert values[5]["status"] == "stored"


async def test_master_playlist_fmp4_and_keyframe_sampling(
    broker: BrokerProcess,
    tmp_path: Path,
    start_origin,
    fmp4_segments: tuple[bytes, list[bytes]],
) -> None:
    init, fragments = fmp4_segments
    origin, base = await start_origin(fragments, target_duration=1, window=4, init=init)
    origin.add_stream("low", head=3, ended=True)
    origin.add_stream("high", head=3, ended=True)
    origin.add_master("cam", [("high", 2_000_000, "1280x720"), ("low", 300_000, "160x120")])
    lake = tmp_path / "lake"
    spec = StreamSpec("cam", f"{base}/cam/master.m3u8", variant="resolution=240")
    cfg = config(broker, lake, spec, frames=FrameSampling.parse("keyframes", "jpeg"))
    await asyncio.wait_for(run_video(cfg), 60)

    segments = read_values(broker.bootstrap, "video.segments")
    assert [s["sequence"] for s in segments] == [0, 1, 2]
    assert all("/low/" in s["uri"] and s["path"].endswith(".m4s") for s in segments)
    assert Path(segments[0]["init_path"]).read_bytes() == init
    assert {s["init_path"] for s in segments} == {segments[0]["init_path"]}
    assert [Path(s["path"]).read_bytes() for s in segments] == fragments[:3]
    frames = read_values(broker.bootstrap, "video.frames")
    assert [(f["sequence"], f["index"], f["keyframe"]) for f in frames] == [
        (0, 0, True),
        (1, 0, True),
        (2, 0, True),
    ]
    for f in frames:
        assert Path(f["path"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG
        assert (f["width"], f["height"]) == (160, 120) and f["time"].startswith("2026-01-01")


async def test_a_malformed_playlist_is_reported_and_retried_and_one_bad_stream_spares_others(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes], caplog
) -> None:
    caplog.set_level(logging.INFO, "headwater.video")
    origin, base = await start_origin(ts_segments, target_duration=1, window=4)
    bad = origin.add_stream("bad", head=2)
    bad.playlist_text = "<html>502 Bad Gateway</html>"
    origin.add_stream("good", head=3, ended=True)
    lake = tmp_path / "lake"
    stop = asyncio.Event()
    cfg = config(
        broker,
        lake,
        StreamSpec("bad", f"{base}/bad/index.m3u8"),
        StreamSpec("good", f"{base}/good/index.m3u8"),
    )
    task = asyncio.create_task(run_video(cfg, stop))
    await wait_until_async(lambda: stored(lake, "good", 2), 30, "the good stream stored")
    await wait_until_async(lambda: bad.playlist_requests >= 3, 30, "the bad playlist retried")
    errors = [r for r in caplog.records if getattr(r, "event", "") == "playlist_error"]
    assert "first line must be #EXTM3U" in errors[0].fields["error"]  # type: ignore[attr-defined]
    bad.playlist_text = None  # the origin recovers
    bad.ended = True
    await wait_until_async(lambda: stored(lake, "bad", 1), 30, "the bad stream recovered")
    await asyncio.wait_for(task, 30)  # both playlists ended
    by_stream: dict[str, list[int]] = {}
    for v in read_values(broker.bootstrap, "video.segments"):
        by_stream.setdefault(v["stream"], []).append(v["sequence"])
    assert by_stream == {"good": [0, 1, 2], "bad": [0, 1]}


async def test_a_playlist_that_stops_updating_is_reported_stalled_then_recovered(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes], caplog
) -> None:
    caplog.set_level(logging.INFO, "headwater.video")
    origin, base = await start_origin(ts_segments, target_duration=1, window=3)
    stream = origin.add_stream("cam1", head=2)
    lake = tmp_path / "lake"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_video(config(broker, lake, StreamSpec("cam1", f"{base}/cam1/index.m3u8")), stop)
    )

    def logged(event: str) -> bool:
        return any(getattr(r, "event", "") == event for r in caplog.records)

    # Reported after 3 target durations without a new segment.
    await wait_until_async(lambda: logged("playlist_stalled"), 30, "stall reported")
    reloads = stream.playlist_requests
    origin.advance("cam1")
    await wait_until_async(lambda: logged("playlist_recovered"), 30, "recovery reported")
    await wait_until_async(lambda: stored(lake, "cam1", 2), 30, "the new segment stored")
    stop.set()
    await asyncio.wait_for(task, 30)
    assert stream.playlist_requests > reloads
    assert [v["sequence"] for v in read_values(broker.bootstrap, "video.segments")] == [0, 1, 2]


@pytest.mark.parametrize("name", ["../x", "a b"])
def test_stream_specs_refuse_unsafe_names(name: str) -> None:
    with pytest.raises(ValueError, match="stream name"):
        StreamSpec(name, "http://x/i.m3u8")


async def test_an_origin_that_restarts_its_numbering_starts_a_recorded_epoch(
    broker: BrokerProcess, tmp_path: Path, start_origin, ts_segments: list[bytes]
) -> None:
    origin, base = await start_origin(ts_segments, target_duration=1, window=3)
    origin.add_stream("cam1", head=10)  # 7..9 listed: followed from 7
    lake = tmp_path / "lake"
    cfg = config(broker, lake, StreamSpec("cam1", f"{base}/cam1/index.m3u8"))
    positions = transport.connect(broker.bootstrap)

    stop = asyncio.Event()
    task = asyncio.create_task(run_video(cfg, stop))
    await wait_until_async(lambda: stored(lake, "cam1", 9), 30, "segment 9 stored")
    origin.add_stream("cam1", head=2)  # the encoder restarted: 0..1, below our position 10
    await wait_until_async(lambda: any(lake.glob("cam1/*/e1-1.ts")), 30, "epoch 1 segment 1 stored")
    origin.advance("cam1", 2)
    await wait_until_async(lambda: any(lake.glob("cam1/*/e1-3.ts")), 30, "epoch 1 segment 3 stored")
    stop.set()
    await asyncio.wait_for(task, 30)
    assert load_video(positions) == {"cam1": VideoPosition(4, epoch=1)}

    # A new process resumes inside epoch 1: no second restart, nothing repeated.
    origin.advance("cam1", 2)
    stop = asyncio.Event()
    task = asyncio.create_task(run_video(cfg, stop))
    await wait_until_async(lambda: any(lake.glob("cam1/*/e1-5.ts")), 30, "resumed in epoch 1")
    stop.set()
    await asyncio.wait_for(task, 30)

    values = read_values(broker.bootstrap, "video.segments")
    numbered = [(v["epoch"], v["sequence"], v["status"]) for v in values]
    assert numbered == [
        *((0, s, "stored") for s in range(7, 10)),
        (1, 0, "restart"),
        *((1, s, "stored") for s in range(6)),
    ]
    restart = values[3]
    assert restart["previous_epoch"] == 0 and restart["previous_next_sequence"] == 10
    assert restart["discontinuity"] is True and "numbering restarted" in restart["restart_reason"]
    for v in values:
        if v["status"] == "stored":  # epoch 1's objects did not replace epoch 0's
            assert Path(v["path"]).read_bytes() == origin.segment_bytes("cam1", v["sequence"])
    assert len({v["path"] for v in values if v["status"] == "stored"}) == 9
