"""The `video.segments` records land in one lake table: stored, gap and restart rows side by
side, each with its numbering epoch (the sink's schemaless conversion, no reject)."""

from __future__ import annotations

from datetime import UTC, datetime

from headwater.lake.convert import Converter
from headwater.lake.tables import spec_for
from headwater.sources.video import records
from headwater.sources.video.playlist import MediaSegment


def test_stored_gap_and_restart_records_convert_into_one_table_with_their_epochs() -> None:
    segment = MediaSegment(36, "seg36.ts", 1.0, program_date_time=datetime(2026, 1, 1, tzinfo=UTC))
    batch = [
        records.segment_record(
            "cam", segment, uri="http://o/seg36.ts", size=188, checksum="sha256:00",
            path="/l/cam/2026-01-01/36.ts", init_path=None, fetched_at=datetime.now(UTC),
        ),
        records.restart_record("cam", 1, 0, 37, "numbering restarted: …", "http://o/live.m3u8"),
        records.gap_record("cam", 0, "left_playlist", epoch=1),
    ]  # fmt: skip
    spec = spec_for(records.SEGMENTS_TOPIC)
    converter = Converter(spec)
    try:
        n = len(batch)
        done = converter.convert(
            [value for _, value, _, _ in batch], [0] * n, list(range(n)), [0] * n, spec.schema
        )
    finally:
        converter.close()
    assert done.rejected == []
    rows = done.table.select(
        ["epoch", "sequence", "status", "previous_epoch", "previous_next_sequence"]
    ).to_pylist()
    assert rows == [
        {"epoch": 0, "sequence": 36, "status": "stored", "previous_epoch": None,
         "previous_next_sequence": None},
        {"epoch": 1, "sequence": 0, "status": "restart", "previous_epoch": 0,
         "previous_next_sequence": 37},
        {"epoch": 1, "sequence": 0, "status": "gap", "previous_epoch": None,
         "previous_next_sequence": None},
    ]  # fmt: skip
