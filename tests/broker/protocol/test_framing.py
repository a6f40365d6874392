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
        got.extend(decoder.feed(stream[i : i + 1]))
    assert got == payloads
    assert decoder.buffered == 0


def test_partial_frame_is_kept_until_complete():
    decoder = FrameDecoder()
    data = frame(b"abcdef")
    assert decoder.feed(data[:5]) == []
    assert decoder.feed(data[5:]) == [b"abcdef"]


def test_negative_length_is_a_frame_error():
    decoder = FrameDecoder()
    with pytest.raises(FrameError, match="negative"):
        decoder.feed(struct.pack(">i", -5))


def test_oversize_frame_is_refused_before_it_is_buffered():
    decoder = FrameDecoder(max_frame_bytes=1024)
    with pytest.raises(FrameError, match="exceeds the limit of 1024"):
        decoder.feed(struct.pack(">i", 1025))


def test_frames_larger_than_the_receive_buffer_arrive_whole_among_small_ones():
    payloads = [b"s1", bytes(range(256)) * 40, b"s2", b"x" * 5000, b""]
    stream = b"".join(frame(p) for p in payloads)
    for chunk in (1, 7, 64, 1000, len(stream)):
        decoder = FrameDecoder(buffer_bytes=1024)
        got = []
        for i in range(0, len(stream), chunk):
            got.extend(decoder.feed(stream[i : i + chunk]))
        assert [bytes(g) for g in got] == payloads
        assert decoder.buffered == 0


def test_received_straight_into_buffers_from_get_buffer():
    decoder = FrameDecoder(buffer_bytes=64)
    data = frame(b"y" * 200) + frame(b"z")
    got = []
    pos = 0
    while pos < len(data):
        target = decoder.get_buffer()
        n = min(len(target), 13, len(data) - pos)
        target[:n] = data[pos : pos + n]
        got.extend(decoder.buffer_updated(n))
        pos += n
    assert [bytes(g) for g in got] == [b"y" * 200, b"z"]
