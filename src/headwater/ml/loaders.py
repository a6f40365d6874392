"""Training sets as model inputs: numpy batches, plain Python examples, a PyTorch IterableDataset.

The contract every loader shares is `example_batches`: per record batch of the table (split to
at most `max_rows` rows), an `ExampleBatch` of the named feature columns as one (rows, features)
numpy matrix (float32 by default; NULL is NaN) and the label column as a numpy array (NULL in a
numeric label is NaN), rows in the table's order (a training set keeps its entities' order, so
row i holds the point-in-time features of entity i). With `shards` > 1, shard k takes every
shards-th batch starting at k: the shards are disjoint and together hold every row once.
Arrays are owned and writable (torch.from_numpy takes them without a copy or a warning).

torch is optional (not a dependency): `torch_dataset` imports it when called and only wraps
`example_batches`, so everything but the tensor wrapping is tested without it. Nothing here
loops per row in Python: columns are cast and copied by Arrow and numpy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class ExampleBatch:
    """Consecutive rows of a training set: features (rows, len(features)) and labels (rows,)."""

    features: npt.NDArray[np.floating[Any]]
    labels: npt.NDArray[Any] | None

    @property
    def num_rows(self) -> int:
        return int(self.features.shape[0])


def example_batches(
    table: pa.Table,
    features: list[str],
    label: str | None = None,
    shard: int = 0,
    shards: int = 1,
    max_rows: int | None = None,
    dtype: npt.DTypeLike = np.float32,
) -> Iterator[ExampleBatch]:
    """The batches of `table` that belong to `shard` of `shards`, as numpy arrays.

    ValueError when a named column is missing or a feature is not numeric (or boolean).
    """
    for batch in _record_batches(table, features, label, shard, shards, max_rows):
        labels = None
        if label:
            labels = np.require(
                batch.column(label).to_numpy(zero_copy_only=False), requirements="W"
            )
        yield ExampleBatch(_matrix(batch, features, dtype), labels)


def iter_examples(
    table: pa.Table,
    features: list[str],
    label: str | None = None,
    shard: int = 0,
    shards: int = 1,
) -> Iterator[tuple[list[float], Any]]:
    """(feature values as floats, NULL as NaN; label or None) per row, batches `shard`::`shards`."""
    for batch in _record_batches(table, features, label, shard, shards, None):
        matrix = _matrix(batch, features, np.float64)
        labels = batch.column(label).to_pylist() if label else [None] * batch.num_rows
        for start in range(0, batch.num_rows, _PYTHON_ROWS):
            end = start + _PYTHON_ROWS
            yield from zip(matrix[start:end].tolist(), labels[start:end], strict=True)


def torch_dataset(table: pa.Table, features: list[str], label: str | None = None) -> Any:
    """A `torch.utils.data.IterableDataset` yielding (float32 feature tensor, label tensor).

    With several DataLoader workers each takes every n-th batch (`example_batches`' shards), so
    no example is seen twice an epoch. Without a label, each label is a float32 NaN.
    """
    try:
        import torch
        from torch.utils.data import IterableDataset, get_worker_info
    except ImportError as exc:
        raise ImportError("to_torch needs PyTorch: pip install torch") from exc
    _check_columns(table, features, label)

    class TrainingExamples(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[tuple[Any, Any]]:
            info = get_worker_info()
            shard, shards = (0, 1) if info is None else (info.id, info.num_workers)
            for batch in example_batches(table, features, label, shard, shards):
                x = torch.from_numpy(batch.features)
                if batch.labels is None:
                    y = torch.full((batch.num_rows,), float("nan"))
                else:
                    y = torch.from_numpy(batch.labels)
                yield from zip(x, y, strict=True)

    return TrainingExamples()


def _record_batches(
    table: pa.Table,
    features: list[str],
    label: str | None,
    shard: int,
    shards: int,
    max_rows: int | None,
) -> Iterator[pa.RecordBatch]:
    """The non-empty record batches of the selected columns that belong to `shard`."""
    _check_columns(table, features, label)
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of 0..{shards - 1}")
    columns = [*features, *([label] if label else [])]
    batches = (b for b in table.select(columns).to_batches(max_chunksize=max_rows) if b.num_rows)
    for n, batch in enumerate(batches):
        if n % shards == shard:
            yield batch


def _matrix(batch: pa.RecordBatch, features: list[str], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """The feature columns side by side, (rows, features), NULL as NaN."""
    matrix = np.empty((batch.num_rows, len(features)), dtype=dtype)
    for j, name in enumerate(features):
        matrix[:, j] = pc.cast(batch.column(name), pa.float64()).to_numpy(zero_copy_only=False)
    return matrix


#: Rows turned into Python lists at a time by `iter_examples`: a whole batch at once keeps so
#: many new lists alive that the garbage collector's passes cost more than the loop saves
#: (bench/ml_loader.py: 0.7x the old per-row loop; in slices of 1024 rows, about 2x).
_PYTHON_ROWS = 1024

#: Arrow types a feature may have: each casts to float64 (a column of only NULLs is all NaN).
_FEATURE_KINDS = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_boolean,
    pa.types.is_null,
)


def _check_columns(table: pa.Table, features: list[str], label: str | None) -> None:
    """Missing columns and non-numeric features, named before any row is read."""
    schema = table.schema
    missing = [c for c in [*features, *([label] if label else [])] if c not in schema.names]
    if missing:
        raise ValueError(
            f"no column {', '.join(map(repr, missing))} in the training set "
            f"(its columns: {', '.join(schema.names)})"
        )
    for name in features:
        kind = schema.field(name).type
        if not any(is_kind(kind) for is_kind in _FEATURE_KINDS):
            raise ValueError(f"feature {name!r} is {kind}: features must be numbers or booleans")
