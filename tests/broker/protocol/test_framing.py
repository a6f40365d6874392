import struct

import pytest

from headwater.broker.protocol.errors import FrameError
from headwater.broker.protocol.framing import FrameDecoder, frame


def test_frames_split_across_arbitrary_chunks_one_byte_at_a_time():
    payloads = [b"", b"a", b"hello world", bytes(range(256)) * 10]
    stream = b"".join(frame(p) for p in payloads)
    decoder = FrameDecoder()
    got = []
    for i in range(len(stream)):
        decoder.feed(stream[i : i + 1])
        got.extend(decoder.frames())
    assert got == payloads
    assert decoder.buffered == 0


def test_partial_frame_is_kept_until_complete():
    decoder = FrameDecoder()
    data = frame(b"abcdef")
    decoder.feed(data[:5])
    assert decoder.frames() == []
    decoder.feed(data[5:])
    assert decoder.frames() == [b"abcdef"]


def test_negative_length_is_a_frame_error():
    decoder = FrameDecoder()
    decoder.feed(struct.pack(">i", -5))
    with pytest.raises(FrameError, match="negative"):
        decoder.frames()


def test_oversize_frame_is_refused_before_it_is_buffered():
    decoder = FrameDecoder(max_frame_bytes=1024)
    decoder.feed(struct.pack(">i", 1025))
    with pytest.raises(FrameError, match="exceeds the limit of 1024"):
        decoder.frames()
