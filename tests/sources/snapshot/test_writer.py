"""The snapshot writer's Parquet choices, read back from the files it wrote."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from headwater.sources.snapshot import Position, read_position
from headwater.sources.snapshot.writer import write_snapshot


def _column_chunks(table_dir: Path) -> dict[str, pq.ColumnChunkMetaData]:
    (file,) = table_dir.glob("*.parquet")
    group = pq.ParquetFile(file).metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


def test_mostly_distinct_columns_skip_the_dictionary_and_all_stay_snappy(tmp_path: Path) -> None:
    rows = 20_000
    schema = pa.schema([("id", pa.int64()), ("country", pa.string()), ("note", pa.string())])
    batches = [
        pa.record_batch(
            [
                pa.array(range(start, start + 5_000), pa.int64()),
                pa.array([["fr", "de", "us"][i % 3] for i in range(5_000)]),
                pa.array([f"note {start + i}" for i in range(5_000)]),
            ],
            schema=schema,
        )
        for start in range(0, rows, 5_000)
    ]
    position = Position("postgresql", "exported_snapshot", lsn="0/1")
    assert write_snapshot(tmp_path, "t", schema, batches, position) == 0
    chunks = _column_chunks(tmp_path / "t")
    assert all(chunk.compression == "SNAPPY" for chunk in chunks.values())
    assert "RLE_DICTIONARY" not in chunks["id"].encodings
    assert "RLE_DICTIONARY" not in chunks["note"].encodings
    assert "RLE_DICTIONARY" in chunks["country"].encodings
    assert read_position(tmp_path, "t") == position
    assert pq.read_table(tmp_path / "t").num_rows == rows


def test_an_empty_stream_writes_an_empty_version(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64())])
    position = Position("mysql", "read_lock", binlog_file="b.000001", binlog_pos=4)
    assert write_snapshot(tmp_path, "t", schema, [], position) == 0
    assert read_position(tmp_path, "t") == position
