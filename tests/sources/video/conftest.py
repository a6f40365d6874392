"""Video fixtures: real segments made once by ffmpeg, a synthetic live origin, topic readers."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from headwater import transport
from headwater.sources.video.testing import LiveOrigin
from tests.conftest import free_port
from tests.kit.consuming import consume_until
from tests.kit.services import COMPONENT_BROKERS
from tests.kit.services import broker_url as component_broker_url

FFMPEG_SOURCE = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p"]


def make_segments(
    directory: Path, seconds: int = 4, fmp4: bool = False
) -> tuple[bytes | None, list[bytes]]:
    """Encode `seconds` of test pattern into 1-second HLS segments; returns (init, segments)."""
    directory.mkdir(parents=True, exist_ok=True)
    kind = ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"] if fmp4 else []
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *FFMPEG_SOURCE, "-t", str(seconds), *H264,
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", *kind,
         "-hls_segment_filename", str(directory / ("s%d.m4s" if fmp4 else "s%d.ts")),
         str(directory / "index.m3u8")],
        check=True,
    )  # fmt: skip
    ext = "m4s" if fmp4 else "ts"
    segments = [(directory / f"s{i}.{ext}").read_bytes() for i in range(seconds)]
    init = (directory / "init.mp4").read_bytes() if fmp4 else None
    return init, segments


@pytest.fixture(scope="session")
def ts_segments(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    return make_segments(tmp_path_factory.mktemp("ts"))[1]


@pytest.fixture(scope="session")
def fmp4_segments(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[bytes]]:
    init, segments = make_segments(tmp_path_factory.mktemp("fmp4"), fmp4=True)
    assert init is not None
    return init, segments


@pytest.fixture
async def start_origin() -> AsyncIterator[Callable[..., object]]:
    """`await start_origin(segments, **options)` -> (origin, base URL); closed at teardown."""
    origins: list[LiveOrigin] = []

    async def start(segments: list[bytes], **options: object) -> tuple[LiveOrigin, str]:
        origin = LiveOrigin(segments, **options)  # type: ignore[arg-type]
        origins.append(origin)
        return origin, await origin.start("127.0.0.1", free_port())

    yield start
    for origin in origins:
        await origin.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[transport.Record]:
    """Every record of partition 0 of `topic`, from the beginning to its current end."""
    conn = transport.connect(bootstrap)
    try:
        with conn.consumer("test-reader") as consumer:
            tp = transport.TopicPartition(topic, 0)
            _, high = consumer.watermarks(tp)
            if high == 0:
                return []
            consumer.assign([transport.TopicPartition(topic, 0, transport.EARLIEST)])
            return consume_until(
                lambda _: consumer.consume(1000, 0.5),
                lambda got: bool(got) and got[-1].offset >= high - 1,
                timeout_s,
                f"{topic} up to offset {high - 1}",
            )
    finally:
        conn.close()


def read_values(bootstrap: str, topic: str, stream: str | None = None) -> list[dict]:
    """The JSON values of `topic`; only `stream`'s when given (a Kafka cluster's topics hold
    other tests' streams too)."""
    values = [orjson.loads(r.value) for r in read_topic(bootstrap, topic) if r.value is not None]
    return [v for v in values if stream is None or v["stream"] == stream]


@pytest.fixture(params=COMPONENT_BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """The end-to-end tests' broker: an embedded one, and the Kafka cluster."""
    return component_broker_url(request)
