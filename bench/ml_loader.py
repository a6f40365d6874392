"""What the training-set loaders cost per row: numpy batches against Python examples.

A synthetic training set (default 1,000,000 rows, 10 float and int feature columns with 1 %
NULLs, an int label) in record batches of 65,536 rows, read three ways in this run:
`example_batches` (one numpy matrix per batch: what `torch_dataset` wraps), `iter_examples`
(a Python list per row, from the same matrices), and the per-row loop `iter_examples` was
before (Arrow to_pylist per column, a list built row by row), the baseline. Prints ns per row
and each way's speed-up over the baseline (best of 3 passes).

    .venv/bin/python bench/ml_loader.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from headwater.ml import example_batches, iter_examples

FEATURES = [f"f{i}" for i in range(10)]


def training_set(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(FEATURES):
        values = rng.random(rows) * 100
        mask = rng.random(rows) < 0.01
        data = values if i % 2 else values.astype(np.int64)
        columns[name] = pa.array(data, mask=mask)
    columns["label"] = pa.array(rng.integers(0, 2, rows))
    return pa.Table.from_batches(pa.table(columns).to_batches(max_chunksize=65_536))


def per_row_baseline(table: pa.Table, features: list[str], label: str) -> Iterator[Any]:
    """loaders.iter_examples before the numpy seam: one Python list built per row."""
    nan = float("nan")
    for batch in table.select([*features, label]).to_batches():
        cols = [batch.column(f).cast(pa.float64()).to_pylist() for f in features]
        labels = batch.column(label).to_pylist()
        for i in range(batch.num_rows):
            yield [nan if c[i] is None else c[i] for c in cols], labels[i]


def count(rows: Iterator[Any]) -> int:
    return sum(1 for _ in rows)


def best_ns_per_row(read: Callable[[], int], rows: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        seen = read()
        best = min(best, time.perf_counter() - start)
        if seen != rows:
            raise SystemExit(f"read {seen} rows of {rows}")
    return best / rows * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    table = training_set(args.rows)
    ways: dict[str, Callable[[], int]] = {
        "per-row loop (baseline)": lambda: count(per_row_baseline(table, FEATURES, "label")),
        "iter_examples": lambda: count(iter_examples(table, FEATURES, "label")),
        "example_batches": lambda: sum(
            b.num_rows for b in example_batches(table, FEATURES, "label")
        ),
    }
    costs = {name: best_ns_per_row(read, args.rows) for name, read in ways.items()}
    baseline = costs["per-row loop (baseline)"]
    out = Table(title=f"training-set loaders, {args.rows:,} rows x {len(FEATURES)} features")
    for column in ("way", "ns/row", "speed-up over baseline"):
        out.add_column(column, justify="left" if column == "way" else "right")
    for name, cost in costs.items():
        out.add_row(name, f"{cost:,.0f}", f"x{baseline / cost:.1f}")
    Console().print(out)


if __name__ == "__main__":
    main()
