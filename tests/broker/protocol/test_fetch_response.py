"""The hand-written Fetch encoder must produce exactly what kio produces, for every version."""

import pytest

from headwater.broker.protocol.build import build
from headwater.broker.protocol.codec import encode_response, response_type
from headwater.broker.protocol.fetch_response import encode_fetch_response


def _response(records: list[bytes]) -> dict:
    return {
        "throttle_time_ms": 3,
        "error_code": 0,
        "session_id": 0,
        "responses": [
            {
                "topic": "tópic",
                "partitions": [
                    {
                        "partition_index": i,
                        "error_code": i % 2,
                        "high_watermark": 1000 + i,
                        "last_stable_offset": 1000 + i,
                        "log_start_offset": i,
                        "aborted_transactions": [],
                        "preferred_read_replica": -1,
                        "records": rec,
                    }
                    for i, rec in enumerate(records)
                ],
            },
            {"topic": "empty", "partitions": []},
        ],
    }


@pytest.mark.parametrize("version", range(4, 13))
@pytest.mark.parametrize("records", [[b""], [b"x" * 10, b""], [b"y" * 5000, b"z" * 300]])
def test_hand_encoding_is_byte_identical_to_kio(version, records):
    data = _response(records)
    expected = encode_response(1, version, 77, build(response_type(1, version), data))
    got = b"".join(bytes(b) for b in encode_fetch_response(version, 77, data))
    assert got == expected


def test_large_records_are_passed_through_not_copied():
    records = memoryview(b"r" * 100_000)
    parts = encode_fetch_response(12, 1, _response([records]))
    assert any(part is records for part in parts)
