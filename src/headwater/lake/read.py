"""Delta tables as Arrow datasets that DuckDB can filter, whichever writer made their files.

delta-rs' MERGE (DataFusion) writes string columns as Arrow `string_view` (the Arrow schema stored
in each Parquet file says so), while `write_deltalake` writes `string`; pyarrow has no comparison
kernel between the two (delta-io/delta-rs#4579), so a filter DuckDB pushes into the scan fails on
the first file of the other kind. Declaring every string `string_view` in the dataset schema makes
the scanner cast the plain files, and DuckDB casts its literals to the column's type: one kind
everywhere, filters pushed down as before.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable


def _as_view(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.string_view()
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_as_view(f.type)) for f in kind.fields])
    return kind


def view_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every string (also inside structs) as `string_view`."""
    return pa.schema([f.with_type(_as_view(f.type)) for f in schema], metadata=schema.metadata)


def dataset(table: DeltaTable) -> ds.Dataset:
    """The table at its loaded version as a dataset whose strings are all `string_view`."""
    plain = table.to_pyarrow_dataset()
    return table.to_pyarrow_dataset(schema=view_schema(plain.schema))
