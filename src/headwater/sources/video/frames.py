"""Frame sampling for ML: decode a segment with PyAV, keep keyframes or N frames a second.

`sample_frames` is blocking and CPU-bound: the runner calls it in a worker thread (PyAV
releases the GIL while FFmpeg decodes), never on the event loop. Keyframe-only sampling asks
the decoder to skip every non-key frame (`skip_frame=NONKEY`), so it costs a fraction of a full
decode. Encoded outputs: JPEG (FFmpeg's mjpeg encoder), PNG, or `npy` (an RGB uint8 array
`height x width x 3` saved with `numpy.save`). Timestamps are seconds on the stream's own
clock (`pts_s`); the runner adds the segment's program date-time for wall-clock times.

A segment FFmpeg cannot decode raises `FrameError` (not retriable: the same bytes fail again).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import numpy as np

FORMATS = {"jpeg": "jpg", "png": "png", "npy": "npy"}


class FrameError(Exception):
    retriable = False


@dataclass(frozen=True, slots=True)
class FrameSampling:
    """`fps=None`: keyframes only; otherwise up to `fps` frames a second of video."""

    fps: float | None = None
    format: str = "jpeg"  # jpeg | png | npy
    jpeg_quality: int = 5  # FFmpeg qscale: 2 (best) .. 31

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"frame format {self.format!r}: expected one of {sorted(FORMATS)}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError("frames per second must be > 0")

    @classmethod
    def parse(cls, mode: str, fmt: str = "jpeg") -> FrameSampling:
        """`keyframes` or `fps=N` (CLI form)."""
        if mode == "keyframes":
            return cls(None, fmt)
        kind, _, value = mode.partition("=")
        try:
            if kind == "fps":
                return cls(float(value), fmt)
        except ValueError:
            pass
        raise ValueError(f"frame sampling {mode!r}: expected keyframes or fps=N")

    @property
    def ext(self) -> str:
        return FORMATS[self.format]


@dataclass(frozen=True, slots=True)
class Frame:
    index: int  # 0.. within the segment
    pts_s: float
    offset_s: float  # from the start of the segment (its program date-time, if any)
    keyframe: bool
    width: int
    height: int
    data: bytes


def sample_frames(
    segment: bytes, sampling: FrameSampling, init: bytes | None = None
) -> list[Frame]:
    """Decode `segment` (with its fMP4 initialisation section `init`) and sample frames."""
    try:
        with av.open(io.BytesIO((init or b"") + segment), mode="r") as container:
            if not container.streams.video:
                raise FrameError("no video stream in segment")
            stream = container.streams.video[0]
            start = container.start_time / 1_000_000 if container.start_time is not None else None
            if sampling.fps is None:
                stream.codec_context.skip_frame = "NONKEY"
            frames: list[Frame] = []
            next_t: float | None = None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if sampling.fps is not None:
                    if next_t is not None and t < next_t - 1e-6:
                        continue
                    next_t = (next_t if next_t is not None else t) + 1 / sampling.fps
                    while next_t <= t:
                        next_t += 1 / sampling.fps
                frames.append(
                    Frame(
                        len(frames),
                        t,
                        max(0.0, t - (start if start is not None else t)),
                        bool(frame.key_frame),
                        frame.width,
                        frame.height,
                        _encode(frame, sampling),
                    )
                )
            return frames
    except av.FFmpegError as exc:
        raise FrameError(f"cannot decode segment: {exc}") from None


def _encode(frame: av.VideoFrame, sampling: FrameSampling) -> bytes:
    if sampling.format == "npy":
        buf = io.BytesIO()
        np.save(buf, frame.to_ndarray(format="rgb24"), allow_pickle=False)
        return buf.getvalue()
    codec, pix_fmt = ("png", "rgb24") if sampling.format == "png" else ("mjpeg", "yuvj420p")
    encoder = cast(av.VideoCodecContext, av.CodecContext.create(codec, "w"))
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = pix_fmt
    encoder.time_base = Fraction(1, 25)
    if codec == "mjpeg":
        encoder.qmin = encoder.qmax = sampling.jpeg_quality  # a fixed quantiser
    image = frame.reformat(format=pix_fmt)
    image.pts = None
    packets = [*encoder.encode(image), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)
