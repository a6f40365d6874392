"""Frame sampling with PyAV on real segments: keyframes only, N per second, three formats."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from headwater.sources.video.frames import FrameError, FrameSampling, sample_frames


def test_keyframes_only_returns_the_one_keyframe_of_a_one_second_gop(
    ts_segments: list[bytes],
) -> None:
    frames = sample_frames(ts_segments[1], FrameSampling.parse("keyframes"))
    assert len(frames) == 1
    frame = frames[0]
    assert frame.keyframe and (frame.width, frame.height) == (160, 120)
    assert frame.offset_s == 0.0
    with av.open(io.BytesIO(frame.data), format="mjpeg") as jpeg:  # a real JPEG
        decoded = next(jpeg.decode(video=0))
    assert (decoded.width, decoded.height) == (160, 120)


def test_fps_sampling_spaces_frames_by_one_over_n(ts_segments: list[bytes]) -> None:
    frames = sample_frames(ts_segments[1], FrameSampling.parse("fps=4", "png"))
    assert len(frames) == 4  # 10 fps source, 1 second
    # The first frame at or after each 0.25 s mark of a 10 fps source: 0, 0.3, 0.5, 0.8.
    assert [round(f.offset_s, 3) for f in frames] == [0.0, 0.3, 0.5, 0.8]
    assert all(f.data.startswith(b"\x89PNG") for f in frames)
    assert [f.index for f in frames] == [0, 1, 2, 3]


def test_numpy_frames_are_rgb_arrays(ts_segments: list[bytes]) -> None:
    (frame,) = sample_frames(ts_segments[0], FrameSampling.parse("keyframes", "npy"))
    array = np.load(io.BytesIO(frame.data))
    assert array.shape == (120, 160, 3) and array.dtype == np.uint8


def test_fmp4_fragments_decode_with_their_init_section(
    fmp4_segments: tuple[bytes, list[bytes]],
) -> None:
    init, fragments = fmp4_segments
    frames = sample_frames(fragments[2], FrameSampling.parse("keyframes"), init)
    assert len(frames) == 1 and frames[0].keyframe


def test_undecodable_bytes_raise_frame_error() -> None:
    with pytest.raises(FrameError, match=r"cannot decode|no video"):
        sample_frames(b"G" + b"\x00" * 187, FrameSampling())


@pytest.mark.parametrize(
    ("mode", "fmt"), [("fps=0", "jpeg"), ("every", "jpeg"), ("keyframes", "gif")]
)
def test_bad_sampling_settings_are_refused(mode: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="frame"):
        FrameSampling.parse(mode, fmt)


def test_jpeg_quality_sets_the_quantiser(ts_segments: list[bytes]) -> None:
    sizes = [
        len(sample_frames(ts_segments[0], FrameSampling(None, "jpeg", q))[0].data) for q in (2, 20)
    ]
    assert sizes[0] > sizes[1] * 1.5
