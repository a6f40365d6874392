"""The playlist parser: RFC 8216 examples, carried date-times, and clear errors for bad input."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.sources.video.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)

LIVE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:8
#EXT-X-MEDIA-SEQUENCE:2680
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000Z

#EXTINF:7.975,
https://priv.example.com/fileSequence2680.ts
#EXTINF:7.941,
fileSequence2681.ts
#EXT-X-DISCONTINUITY
#EXTINF:7.975,
fileSequence2682.ts
"""


def test_live_media_playlist_numbers_segments_from_media_sequence() -> None:
    playlist = parse_playlist(LIVE)
    assert isinstance(playlist, MediaPlaylist)
    assert playlist.target_duration == 8
    assert [s.sequence for s in playlist.segments] == [2680, 2681, 2682]
    assert [s.uri for s in playlist.segments][1] == "fileSequence2681.ts"
    assert playlist.next_sequence == 2683
    assert not playlist.ended


def test_program_date_time_carries_forward_until_a_discontinuity() -> None:
    playlist = parse_playlist(LIVE)
    assert isinstance(playlist, MediaPlaylist)
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    first, second, third = playlist.segments
    assert first.program_date_time == start
    assert second.program_date_time == start + timedelta(seconds=7.975)
    assert third.discontinuity and third.discontinuity_sequence == 1
    assert third.program_date_time is None


def test_map_gap_endlist_and_discontinuity_sequence() -> None:
    text = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:4
#EXT-X-MAP:URI="init-a.mp4"
#EXTINF:2,
10.m4s
#EXT-X-GAP
#EXTINF:2,
11.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-b.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00+01:00
#EXTINF:2,
12.m4s
#EXT-X-ENDLIST
"""
    playlist = parse_playlist(text)
    assert isinstance(playlist, MediaPlaylist)
    a, b, c = playlist.segments
    assert (a.map_uri, b.map_uri, c.map_uri) == ("init-a.mp4", "init-a.mp4", "init-b.mp4")
    assert (a.gap, b.gap, c.gap) == (False, True, False)
    assert [s.discontinuity_sequence for s in playlist.segments] == [4, 4, 5]
    assert c.program_date_time == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert playlist.ended and playlist.discontinuity_sequence == 4


def test_master_playlist_lists_variants() -> None:
    text = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,RESOLUTION=1280x720
mid/index.m3u8
"""
    playlist = parse_playlist(text)
    assert isinstance(playlist, MasterPlaylist)
    low, mid = playlist.variants
    assert (low.uri, low.bandwidth, low.average_bandwidth, low.resolution) == (
        "low/index.m3u8",
        1280000,
        1000000,
        (640, 360),
    )
    assert low.codecs == "avc1.4d401e,mp4a.40.2"
    assert (mid.bandwidth, mid.resolution) == (2560000, (1280, 720))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "first line must be #EXTM3U"),
        ("<html>502 Bad Gateway</html>", "first line must be #EXTM3U"),
        ("#EXTM3U\n#EXTINF:2,\na.ts\n", "without #EXT-X-TARGETDURATION"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:x\n", "line 3:"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:two\n", "not a number: 'two'"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts\n", "line 3: #EXTINF"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", "line 3: segment URI 'a.ts' without"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n", "without a segment URI"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=k\n", "encrypted"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:10@0\n", "BYTERANGE"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", "ISO 8601"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n", "without BANDWIDTH"),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", "without a URI line"),
    ],
)
def test_malformed_playlists_raise_playlist_error_naming_the_problem(
    text: str, message: str
) -> None:
    with pytest.raises(PlaylistError, match=message):
        parse_playlist(text)


_TAGS = [
    "#EXTINF:",
    "#EXT-X-TARGETDURATION:",
    "#EXT-X-MEDIA-SEQUENCE:",
    "#EXT-X-DISCONTINUITY-SEQUENCE:",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-PROGRAM-DATE-TIME:",
    "#EXT-X-MAP:",
    "#EXT-X-GAP",
    "#EXT-X-ENDLIST",
    "#EXT-X-STREAM-INF:",
    "#EXT-X-KEY:",
    "",
]
_LINES = st.tuples(
    st.sampled_from(_TAGS), st.text(alphabet='0123456789.,:-+TZxa="URIBANDWIDTH ', max_size=30)
).map("".join)


@settings(max_examples=250, deadline=None)
@given(st.lists(_LINES | st.text(max_size=20), max_size=30))
def test_fuzz_parse_or_playlist_error(lines: list[str]) -> None:
    """Invariant: any text parses or raises PlaylistError, never anything else."""
    with contextlib.suppress(PlaylistError):
        parse_playlist("\n".join(["#EXTM3U", *lines]))
