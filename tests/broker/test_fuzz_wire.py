"""Kafka request frames for the fuzzers: valid ones encoded by kio, and hypothesis strategies
that mutate them (bit flips, inserted and deleted bytes, rewritten lengths and counts, truncation,
huge or negative size prefixes, unknown api keys and versions, RecordBatches whose header fields
are rewritten with the CRC fixed up).

The tests here check the generators themselves, without a broker: the hand-built RecordBatch is
byte-identical to kio's, and every valid frame's size prefix matches its length.
"""

from __future__ import annotations

import datetime
import gzip
import io
import struct
from typing import Any

import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.records.schema import NewRecordBatch, Record
from kio.records.writers import write_new_batch
from kio.schema.api_versions.v0.request import ApiVersionsRequest as ApiVersionsV0
from kio.schema.api_versions.v3.request import ApiVersionsRequest as ApiVersionsV3
from kio.schema.fetch.v4.request import FetchPartition as FetchPartitionV4
from kio.schema.fetch.v4.request import FetchRequest as FetchV4
from kio.schema.fetch.v4.request import FetchTopic as FetchTopicV4
from kio.schema.fetch.v12.request import FetchPartition as FetchPartitionV12
from kio.schema.fetch.v12.request import FetchRequest as FetchV12
from kio.schema.fetch.v12.request import FetchTopic as FetchTopicV12
from kio.schema.join_group.v5.request import JoinGroupRequest, JoinGroupRequestProtocol
from kio.schema.metadata.v1.request import MetadataRequest as MetadataV1
from kio.schema.metadata.v1.request import MetadataRequestTopic as MetadataTopicV1
from kio.schema.metadata.v12.request import MetadataRequest as MetadataV12
from kio.schema.metadata.v12.request import MetadataRequestTopic as MetadataTopicV12
from kio.schema.offset_commit.v8.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kio.schema.produce.v3.request import PartitionProduceData as PartitionV3
from kio.schema.produce.v3.request import ProduceRequest as ProduceV3
from kio.schema.produce.v3.request import TopicProduceData as TopicV3
from kio.schema.produce.v9.request import PartitionProduceData as PartitionV9
from kio.schema.produce.v9.request import ProduceRequest as ProduceV9
from kio.schema.produce.v9.request import TopicProduceData as TopicV9
from kio.serial import entity_writer
from kio.static.primitive import Records, TZAwareMicros, i8, i16, i32, i64

API_VERSIONS = 18
FUZZ_TOPICS = ["fuzz-a", "fuzz-b", "bystander-no"]  # never the bystander's topic

# -- encoding valid requests ------------------------------------------------------------------


def request_frame(request: Any, correlation_id: int, client_id: str | None = "fuzz") -> bytes:
    """size + request header (the version the class declares) + body, all written by kio."""
    header_type = request.__header_schema__
    header = header_type(
        request_api_key=i16(request.__api_key__),
        request_api_version=i16(request.__version__),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    buffer = io.BytesIO()
    entity_writer(header_type)(buffer, header)
    entity_writer(type(request))(buffer, request)
    payload = buffer.getvalue()
    return struct.pack(">i", len(payload)) + payload


def _varint(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag & ~0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _bytes_field(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


def record_batch(
    records: list[tuple[bytes | None, bytes | None]],
    *,
    gzipped: bool = False,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    timestamp_ms: int = 1_700_000_000_000,
) -> bytes:
    """A magic-2 RecordBatch as a producer sends it (base offset 0, CRC-32C over attributes..)."""
    body = bytearray()
    for delta, (key, value) in enumerate(records):
        record = b"\x00" + _varint(delta) + _varint(delta) + _bytes_field(key)
        record += _bytes_field(value) + _varint(0)
        body += _varint(len(record)) + record
    data = gzip.compress(bytes(body), mtime=0) if gzipped else bytes(body)
    post = (
        struct.pack(
            ">hiqqqhii",
            1 if gzipped else 0,
            len(records) - 1,
            timestamp_ms,
            timestamp_ms + len(records) - 1,
            producer_id,
            producer_epoch,
            base_sequence,
            len(records),
        )
        + data
    )
    return struct.pack(">qiibI", 0, len(post) + 9, 0, 2, crc32c.crc32c(post)) + post


def fix_crc(batch: bytearray) -> None:
    struct.pack_into(">I", batch, 17, crc32c.crc32c(bytes(batch[21:])))


# -- strategies -------------------------------------------------------------------------------

names = st.sampled_from(FUZZ_TOPICS)
small_bytes = st.binary(max_size=64)
correlation_ids = st.integers(-(2**31), 2**31 - 1)
records_st = st.lists(
    st.tuples(st.none() | small_bytes, st.none() | small_bytes), min_size=1, max_size=8
)


@st.composite
def batches(draw: st.DrawFn) -> bytes:
    return record_batch(draw(records_st), gzipped=draw(st.booleans()))


@st.composite
def valid_requests(draw: st.DrawFn) -> Any:
    kind = draw(
        st.sampled_from(
            ["api_versions", "metadata", "produce", "fetch", "join_group", "offset_commit"]
        )
    )
    short_wait = datetime.timedelta(milliseconds=draw(st.integers(0, 50)))
    if kind == "api_versions":
        if draw(st.booleans()):
            return ApiVersionsV0()
        return ApiVersionsV3(
            client_software_name=draw(st.sampled_from(["fuzz", "", "a b"])),
            client_software_version=draw(st.sampled_from(["1.0", "-", ""])),
        )
    if kind == "metadata":
        topics = draw(st.lists(names, max_size=3))
        if draw(st.booleans()):
            return MetadataV1(topics=tuple(MetadataTopicV1(name=t) for t in topics))
        return MetadataV12(
            topics=draw(
                st.none() | st.just(tuple(MetadataTopicV12(topic_id=None, name=t) for t in topics))
            ),
            allow_auto_topic_creation=draw(st.booleans()),
            include_topic_authorized_operations=draw(st.booleans()),
        )
    if kind == "produce":
        acks = i16(draw(st.sampled_from([0, 1, -1])))
        timeout = datetime.timedelta(milliseconds=draw(st.integers(0, 1000)))
        topic = draw(names)
        partition = i32(draw(st.sampled_from([0, 0, 1, -1, 7])))
        batch = Records(draw(batches()))
        if draw(st.booleans()):
            return ProduceV3(
                transactional_id=None,
                acks=acks,
                timeout=timeout,
                topic_data=(
                    TopicV3(
                        name=topic, partition_data=(PartitionV3(index=partition, records=batch),)
                    ),
                ),
            )
        return ProduceV9(
            transactional_id=None,
            acks=acks,
            timeout=timeout,
            topic_data=(
                TopicV9(name=topic, partition_data=(PartitionV9(index=partition, records=batch),)),
            ),
        )
    if kind == "fetch":
        topic = draw(names)
        offset = i64(draw(st.sampled_from([0, 1, -1, 2**40])))
        max_bytes = i32(draw(st.sampled_from([0, 1, 1 << 20])))
        if draw(st.booleans()):
            return FetchV4(
                max_wait=short_wait,
                min_bytes=i32(draw(st.integers(0, 10))),
                max_bytes=max_bytes,
                topics=(
                    FetchTopicV4(
                        topic=topic,
                        partitions=(
                            FetchPartitionV4(
                                partition=i32(0), fetch_offset=offset, partition_max_bytes=max_bytes
                            ),
                        ),
                    ),
                ),
            )
        return FetchV12(
            max_wait=short_wait,
            min_bytes=i32(draw(st.integers(0, 10))),
            max_bytes=max_bytes,
            forgotten_topics_data=(),
            topics=(
                FetchTopicV12(
                    topic=topic,
                    partitions=(
                        FetchPartitionV12(
                            partition=i32(0), fetch_offset=offset, partition_max_bytes=max_bytes
                        ),
                    ),
                ),
            ),
        )
    if kind == "join_group":
        return JoinGroupRequest(
            group_id=draw(st.sampled_from(["fuzz-group", ""])),
            session_timeout=datetime.timedelta(milliseconds=draw(st.sampled_from([6000, 1, 0]))),
            rebalance_timeout=short_wait,
            member_id=draw(st.sampled_from(["", "stranger"])),
            group_instance_id=None,
            protocol_type="consumer",
            protocols=tuple(
                JoinGroupRequestProtocol(name=n, metadata=draw(small_bytes))
                for n in draw(st.lists(st.sampled_from(["range", "roundrobin"]), max_size=2))
            ),
        )
    return OffsetCommitRequest(
        group_id=draw(st.sampled_from(["fuzz-group", "other"])),
        generation_id_or_member_epoch=i32(draw(st.sampled_from([-1, 0, 1]))),
        member_id=draw(st.sampled_from(["", "stranger"])),
        group_instance_id=None,
        topics=(
            OffsetCommitRequestTopic(
                name=draw(names),
                partitions=(
                    OffsetCommitRequestPartition(
                        partition_index=i32(draw(st.sampled_from([0, 3, -1]))),
                        committed_offset=i64(draw(st.sampled_from([0, 5, -1]))),
                        committed_metadata=draw(st.none() | st.just("m")),
                    ),
                ),
            ),
        ),
    )


@st.composite
def valid_frames(draw: st.DrawFn) -> bytes:
    return request_frame(
        draw(valid_requests()), draw(correlation_ids), draw(st.sampled_from(["fuzz", None, ""]))
    )


INTERESTING_INT32 = [0, 1, -1, 2**31 - 1, -(2**31), 2**16, 100 * 1024 * 1024, 100 * 1024 * 1024 + 1]
INTERESTING_INT16 = [0, 1, -1, 2**15 - 1, -(2**15), 255]


def _mutate(draw: st.DrawFn, frame: bytearray) -> bytearray:
    """Apply one random mutation; positions are drawn within the current frame."""
    op = draw(
        st.sampled_from(
            [
                "flip",
                "insert",
                "delete",
                "size",
                "truncate",
                "int16",
                "int32",
                "version",
                "append_frame",
            ]
        )
    )
    end = max(len(frame) - 1, 0)
    if op == "flip" and frame:
        pos = draw(st.integers(0, end))
        frame[pos] ^= draw(st.integers(1, 255))
    elif op == "insert":
        pos = draw(st.integers(0, len(frame)))
        frame[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    elif op == "delete" and frame:
        pos = draw(st.integers(0, end))
        del frame[pos : pos + draw(st.integers(1, 16))]
    elif op == "size" and len(frame) >= 4:
        size = draw(
            st.sampled_from(INTERESTING_INT32)
            | st.integers(-(2**31), 2**31 - 1)
            | st.integers(len(frame) - 12, len(frame) + 8)
        )
        struct.pack_into(">i", frame, 0, size)
    elif op == "truncate" and frame:
        del frame[draw(st.integers(0, end)) :]
    elif op == "int16" and len(frame) >= 2:
        struct.pack_into(
            ">h",
            frame,
            draw(st.integers(0, len(frame) - 2)),
            draw(st.sampled_from(INTERESTING_INT16)),
        )
    elif op == "int32" and len(frame) >= 4:
        struct.pack_into(
            ">i",
            frame,
            draw(st.integers(0, len(frame) - 4)),
            draw(st.sampled_from(INTERESTING_INT32)),
        )
    elif op == "version" and len(frame) >= 8:
        struct.pack_into(">h", frame, 6, draw(st.integers(0, 13)))
    elif op == "append_frame":
        frame += draw(valid_frames())
    return frame


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """1-3 mutations; half the time the size prefix is then fixed up so the body gets decoded."""
    frame = bytearray(draw(valid_frames()))
    for _ in range(draw(st.integers(1, 3))):
        frame = _mutate(draw, frame)
    if len(frame) >= 4 and draw(st.booleans()):
        struct.pack_into(">i", frame, 0, len(frame) - 4)
    return bytes(frame)


@st.composite
def bad_size_prefixes(draw: st.DrawFn) -> bytes:
    size = draw(
        st.sampled_from([-1, -(2**31), 2**31 - 1, 100 * 1024 * 1024 + 1, 50 * 1024 * 1024])
        | st.integers(-(2**31), 2**31 - 1)
    )
    return struct.pack(">i", size) + draw(valid_frames() | st.binary(max_size=64))


@st.composite
def unknown_apis(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(valid_frames()))
    api_key = draw(
        st.sampled_from([-1, 4, 5, 6, 7, 17, 21, 67, 999, 2**15 - 1])
        | st.integers(-(2**15), 2**15 - 1)
    )
    version = draw(st.sampled_from([-1, 0, 13, 99, 2**15 - 1]) | st.integers(-(2**15), 2**15 - 1))
    struct.pack_into(">hh", frame, 4, api_key, version)
    return bytes(frame)


BATCH_FIELDS = {  # name -> (offset in the batch, struct format)
    "batch_length": (8, ">i"),
    "magic": (16, ">b"),
    "attributes": (21, ">h"),
    "last_offset_delta": (23, ">i"),
    "base_timestamp": (27, ">q"),
    "max_timestamp": (35, ">q"),
    "producer_id": (43, ">q"),
    "producer_epoch": (51, ">h"),
    "base_sequence": (53, ">i"),
    "records_count": (57, ">i"),
}
FIELD_VALUES = {
    ">b": [0, 1, 3, -1, 127],
    ">h": [-1, 0, 5, 7, 0x10, 0x20, 0x30, 2**15 - 1],
    ">i": [-1, 0, 1, 2, 60, 2**31 - 1, -(2**31)],
    ">q": [-1, 0, 2**62, -(2**63), 2**63 - 1, 1],
}


@st.composite
def produce_with_rewritten_batches(draw: st.DrawFn) -> bytes:
    """Produce requests whose batch breaks a rule yet carries a valid CRC (or a record is torn)."""
    batch = bytearray(draw(batches()))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(BATCH_FIELDS)))
            pos, fmt = BATCH_FIELDS[name]
            struct.pack_into(fmt, batch, pos, draw(st.sampled_from(FIELD_VALUES[fmt])))
        elif len(batch) > 61:
            pos = draw(st.integers(61, len(batch) - 1))
            batch[pos] ^= draw(st.integers(1, 255))
    if draw(st.integers(0, 4)):
        fix_crc(batch)
    version = draw(st.sampled_from([3, 9]))
    topic_type, partition_type, request_type = (
        (TopicV3, PartitionV3, ProduceV3) if version == 3 else (TopicV9, PartitionV9, ProduceV9)
    )
    request = request_type(
        transactional_id=None,
        acks=i16(draw(st.sampled_from([1, -1]))),
        timeout=datetime.timedelta(seconds=1),
        topic_data=(
            topic_type(
                name=draw(names),
                partition_data=(partition_type(index=i32(0), records=Records(bytes(batch))),),
            ),
        ),
    )
    return request_frame(request, draw(correlation_ids))


# -- checks of the generators themselves --------------------------------------------------------


def test_hand_built_batch_is_byte_identical_to_kios():
    records = [(b"k", b"v"), (None, b"\x00" * 300), (b"", None)]
    base = datetime.datetime.fromtimestamp(1_700_000_000, tz=datetime.UTC)
    batch = NewRecordBatch(
        producer_id=i64(-1),
        producer_epoch=i16(-1),
        base_sequence=i32(-1),
        attributes=i16(0),
        records=tuple(
            Record(
                attributes=i8(0),
                timestamp=TZAwareMicros(base + datetime.timedelta(milliseconds=delta)),
                offset=i64(delta),
                key=key,
                value=value,
                headers=(),
            )
            for delta, (key, value) in enumerate(records)
        ),
    )
    buffer = io.BytesIO()
    write_new_batch(buffer, batch)
    assert record_batch(records) == buffer.getvalue()


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(frame=valid_frames())
def test_valid_frames_declare_their_own_length(frame):
    assert struct.unpack_from(">i", frame)[0] == len(frame) - 4
