import io
import struct

import pytest
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.request_header.v2.header import RequestHeader
from kio.serial import entity_writer
from kio.static.primitive import i16, i32

from headwater.broker.protocol.build import build
from headwater.broker.protocol.codec import decode_request, encode_response, response_type
from headwater.broker.protocol.errors import RequestDecodeError, UnsupportedVersionError
from headwater.broker.protocol.legacy_produce import (
    decode_legacy_produce,
    encode_legacy_produce_error,
)


def _metadata_v12_frame(correlation_id: int = 42) -> bytes:
    buf = io.BytesIO()
    header = RequestHeader(
        request_api_key=i16(3),
        request_api_version=i16(12),
        correlation_id=i32(correlation_id),
        client_id="test-client",
    )
    entity_writer(RequestHeader)(buf, header)
    body = MetadataRequest(
        topics=(MetadataRequestTopic(topic_id=None, name="t"),),
        allow_auto_topic_creation=True,
        include_topic_authorized_operations=False,
    )
    entity_writer(MetadataRequest)(buf, body)
    return buf.getvalue()


def test_flexible_request_decodes_header_and_body():
    req = decode_request(_metadata_v12_frame())
    assert (req.api_key, req.api_version, req.correlation_id) == (3, 12, 42)
    assert req.client_id == "test-client"
    assert [t.name for t in req.body.topics] == ["t"]


def test_unknown_api_key_is_unsupported_with_correlation_id():
    frame = struct.pack(">hhih", 999, 0, 7, -1)
    with pytest.raises(UnsupportedVersionError) as info:
        decode_request(frame)
    assert info.value.correlation_id == 7


def test_version_above_advertised_is_unsupported():
    frame = struct.pack(">hhih", 3, 13, 9, -1)
    with pytest.raises(UnsupportedVersionError, match="supported 0-12"):
        decode_request(frame)


def test_truncated_body_is_a_decode_error_not_a_library_exception():
    frame = _metadata_v12_frame()
    failures = 0
    for cut in range(8, len(frame)):
        try:
            decode_request(frame[:cut])
        except RequestDecodeError:
            failures += 1
    assert failures > 0  # any other exception type fails the test by propagating


def test_short_frame_is_a_decode_error():
    with pytest.raises(RequestDecodeError, match="shorter than a header"):
        decode_request(b"\x00\x03")


def test_response_header_v1_for_flexible_and_v0_for_api_versions():
    meta = build(
        response_type(3, 12),
        {"throttle_time_ms": 0, "brokers": [], "cluster_id": "c", "controller_id": 1, "topics": []},
    )
    data = encode_response(3, 12, 5, meta)
    size, corr, tagged = struct.unpack_from(">iib", data)
    assert (size, corr, tagged) == (len(data) - 4, 5, 0)
    av = build(response_type(18, 3), {"error_code": 0, "api_keys": [], "throttle_time_ms": 0})
    data = encode_response(18, 3, 6, av)
    size, corr, error = struct.unpack_from(">iih", data)
    assert (corr, error) == (6, 0)  # no tagged-field byte between header and body


def test_legacy_produce_round_trip_encodes_unsupported_version_per_partition():
    body = struct.pack(">hii", 1, 1000, 1) + struct.pack(">h", 1) + b"t" + struct.pack(">i", 2)
    body += struct.pack(">ii", 0, 3) + b"abc" + struct.pack(">ii", 1, 0)
    req = decode_legacy_produce(body, 0)
    assert req.acks == 1 and req.topics == [("t", [0, 1])]
    out = encode_legacy_produce_error(2, req, 35)
    (topics,) = struct.unpack_from(">i", out)
    assert topics == 1
    assert out.count(struct.pack(">h", 35)) == 2
