"""The records of `_headwater.positions`: keys per kind, values as DESIGN.md describes them."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from headwater.contracts import positions as p


def test_keys_name_their_kind_and_the_old_cdc_key_is_the_bare_source() -> None:
    assert p.cdc_key("shop") == b"cdc:shop"
    assert p.video_key("cam1") == b"video:cam1"
    assert p.legacy_cdc_key("shop") == b"shop"
    assert p.video_stream(b"video:cam1") == "cam1"
    assert p.video_stream(b"cdc:shop") is None and p.video_stream(b"shop") is None


def test_a_cdc_record_holds_source_connector_position_and_time() -> None:
    value = p.encode_cdc("shop", "postgresql", {"lsn": "0/16B3748", "lsn_int": 23803720}, 5)
    assert orjson.loads(value) == {
        "source": "shop",
        "connector": "postgresql",
        "position": {"lsn": "0/16B3748", "lsn_int": 23803720},
        "ts_ms": 5,
    }
    assert p.decode_cdc(value) == {"lsn": "0/16B3748", "lsn_int": 23803720}


def test_a_video_record_holds_stream_next_sequence_epoch_and_utc_time() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    value = p.encode_video("cam1", 37, 2, at)
    assert value == (
        b'{"stream":"cam1","next_sequence":37,"epoch":2,"updated_at":"2026-01-02T03:04:05.678Z"}'
    )
    assert p.decode_video(value) == p.VideoPosition(37, epoch=2)


def test_a_video_record_written_before_epochs_is_epoch_zero() -> None:
    value = b'{"stream":"cam1","next_sequence":37,"updated_at":"2026-01-02T03:04:05.678Z"}'
    assert p.decode_video(value) == p.VideoPosition(37, epoch=0)


@pytest.mark.parametrize(
    ("decode", "value", "reason"),
    [
        (p.decode_cdc, b"not json", "not JSON"),
        (p.decode_cdc, b"[1]", "a JSON list"),
        (p.decode_cdc, b'{"position": 3}', "'position' is 3"),
        (p.decode_video, b'{"next_sequence": "7"}', "'next_sequence' is '7'"),
        (p.decode_video, b'{"next_sequence": true}', "'next_sequence' is True"),
        (p.decode_video, b'{"next_sequence": -1}', "'next_sequence' is -1"),
        (p.decode_video, b'{"next_sequence": 1, "epoch": "1"}', "'epoch' is '1'"),
    ],
)
def test_a_value_that_is_not_a_position_says_why(decode, value: bytes, reason: str) -> None:
    with pytest.raises(p.PositionFormatError, match=reason.replace("(", r"\(")):
        decode(value, "key x")
