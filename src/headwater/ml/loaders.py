"""Training sets as model inputs: plain Python examples, and a PyTorch IterableDataset.

torch is optional (not a dependency): `torch_dataset` imports it when called. Examples stream
record batch by record batch, so a large set is never turned into Python objects at once; with
several DataLoader workers each takes every n-th batch, so no example is seen twice an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa


def iter_examples(
    table: pa.Table,
    features: list[str],
    label: str | None = None,
    shard: int = 0,
    shards: int = 1,
) -> Iterator[tuple[list[float], Any]]:
    """(feature values as floats, NULL as NaN; label or None) per row, batches `shard`::`shards`."""
    columns = [*features, *([label] if label else [])]
    nan = float("nan")
    for n, batch in enumerate(table.select(columns).to_batches()):
        if n % shards != shard:
            continue
        cols = [batch.column(f).cast(pa.float64()).to_pylist() for f in features]
        labels = batch.column(label).to_pylist() if label else [None] * batch.num_rows
        for i in range(batch.num_rows):
            yield [nan if c[i] is None else c[i] for c in cols], labels[i]


def torch_dataset(table: pa.Table, features: list[str], label: str | None = None) -> Any:
    """A `torch.utils.data.IterableDataset` yielding (float32 feature tensor, label tensor)."""
    try:
        import torch
        from torch.utils.data import IterableDataset, get_worker_info
    except ImportError as exc:
        raise ImportError("to_torch needs PyTorch: pip install torch") from exc

    class TrainingExamples(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[tuple[Any, Any]]:
            info = get_worker_info()
            shard, shards = (0, 1) if info is None else (info.id, info.num_workers)
            for values, y in iter_examples(table, features, label, shard, shards):
                x = torch.tensor(values, dtype=torch.float32)
                yield x, (torch.tensor(y) if y is not None else torch.tensor(float("nan")))

    return TrainingExamples()
