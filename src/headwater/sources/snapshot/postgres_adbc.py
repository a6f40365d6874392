"""PostgreSQL chunk reads over ADBC (COPY BINARY decoded into Arrow by the driver, in C).

Behind the COPY CSV reader (postgres_copy) it reads what CSV cannot carry exactly, and on servers
without TID range scans the ctid chunks of tables without an integer key. Its connection joins the
exported snapshot when first needed, so a snapshot that never needs it never opens it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.sources.snapshot.plan import Column


class AdbcReader:
    """Reads chunks over ADBC; its connection joins the snapshot when first needed (behind the
    COPY reader it only reads what CSV cannot carry exactly)."""

    def __init__(self, dsn: str, snapshot_id: str, select: str, columns: list[Column]) -> None:
        self.dsn, self.snapshot_id, self.select = dsn, snapshot_id, select
        # The driver's forms that are not the column's Arrow type: numeric (see column_for) and
        # oid, an unsigned 32-bit number the driver hands over as a signed int32.
        self.fixes = {
            i: c
            for i, c in enumerate(columns)
            if pa.types.is_decimal(c.arrow_type) or c.source_type == "oid"
        }
        self.conn: Any = None

    def _connection(self) -> Any:
        if self.conn is None:
            # Imported here: the driver imports pyarrow.dataset and with it pandas, ~1 s of a
            # snapshot's start that the COPY reader alone never needs.
            import adbc_driver_postgresql.dbapi as adbc

            self.conn = adbc.connect(self.dsn)
            with self.conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot_id}'")
        return self.conn

    def read(self, where: str) -> Iterator[pa.RecordBatch]:
        with self._connection().cursor() as cur:
            cur.execute(f"{self.select} WHERE {where}")
            for batch in cur.fetch_record_batch():
                yield self._convert(batch)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()
            finally:
                self.conn.close()

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.fixes:
            return batch
        arrays = list(batch.columns)
        for index, column in self.fixes.items():
            if column.source_type == "oid":
                arrays[index] = pc.cast(arrays[index].view(pa.uint32()), pa.int64())
            else:
                arrays[index] = _to_decimal(arrays[index], column.arrow_type)
        return pa.RecordBatch.from_arrays(arrays, [f.name for f in batch.schema])


def _to_decimal(array: pa.Array, decimal: pa.DataType) -> pa.Array:
    """numeric as text (the driver's form) or as its unscaled int8 (see column_for)."""
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if pa.types.is_integer(array.type):
        # decimal128(19, 0) holds the unscaled integers; the same buffers read as (p, s) are
        # the values, without a multiplication.
        unscaled = pc.cast(array, pa.decimal128(19, 0))
        return pa.Array.from_buffers(
            decimal, len(unscaled), unscaled.buffers(), unscaled.null_count, unscaled.offset
        )
    return pc.cast(array, decimal)
