"""The loaders' contract, tested without torch: what `example_batches` yields (shapes, dtypes,
order, batching, shards, NULLs, the point-in-time features of a built training set), that
`iter_examples` yields the same rows, and bad column names refused before any row is read.

torch is not installed here (its Linux wheels pull several GB of CUDA; only PyPI is reachable,
not the CPU-only index): the one test that wraps tensors skips without it and says so.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from headwater.ml import DatasetSpec, build, example_batches, iter_examples

from .lake import T0, append_events, event
from .test_features import DAY, HOUR, PLAN, entities, plans

NO_TORCH = importlib.util.find_spec("torch") is None
NO_TORCH_REASON = (
    "torch is not installed (optional; its CPU-only wheels are not reachable here): "
    "the loader's contract is tested through example_batches without it"
)


def three_batches() -> pa.Table:
    """15 rows in record batches of 5, 6 and 4 rows; x = row number, y = 10 * row number."""
    bounds = [(0, 5), (5, 11), (11, 15)]
    return pa.Table.from_batches(
        [
            pa.record_batch(
                {
                    "x": list(range(a, b)),
                    "flag": [i % 2 == 0 for i in range(a, b)],
                    "y": [10 * i for i in range(a, b)],
                }
            )
            for a, b in bounds
        ]
    )


def test_features_are_a_float32_matrix_and_labels_keep_their_type() -> None:
    batches = list(example_batches(three_batches(), ["x", "flag"], "y"))
    assert [b.features.shape for b in batches] == [(5, 2), (6, 2), (4, 2)]
    for b in batches:
        assert b.features.dtype == np.float32 and b.features.flags.c_contiguous
        assert b.features.flags.writeable and b.labels is not None and b.labels.flags.writeable
        assert b.labels.dtype == np.int64 and b.labels.shape == (b.num_rows,)
    assert batches[0].features.tolist() == [[0, 1], [1, 0], [2, 1], [3, 0], [4, 1]]


def test_rows_come_in_the_tables_order_one_batch_per_record_batch() -> None:
    batches = list(example_batches(three_batches(), ["x"], "y"))
    assert np.concatenate([b.features[:, 0] for b in batches]).tolist() == list(range(15))
    assert np.concatenate([b.labels for b in batches]).tolist() == [10 * i for i in range(15)]


def test_max_rows_splits_batches_without_reordering() -> None:
    sizes = [b.num_rows for b in example_batches(three_batches(), ["x"], max_rows=4)]
    assert sizes == [4, 1, 4, 2, 4]
    rows = [b.features[:, 0] for b in example_batches(three_batches(), ["x"], max_rows=4)]
    assert np.concatenate(rows).tolist() == list(range(15))


def test_shards_take_every_nth_batch_disjoint_and_together_whole() -> None:
    table = three_batches()
    shards = [
        [int(v) for b in example_batches(table, ["x"], shard=s, shards=2) for v in b.features[:, 0]]
        for s in range(2)
    ]
    assert shards == [[*range(0, 5), *range(11, 15)], list(range(5, 11))]
    with pytest.raises(ValueError, match=r"shard 2 is not one of 0\.\.1"):
        next(example_batches(table, ["x"], shard=2, shards=2))


def test_no_label_gives_none_and_null_features_are_nan() -> None:
    table = pa.table({"x": pa.array([1, None, 3], pa.int32()), "y": pa.array([1.5, 2.5, None])})
    (batch,) = example_batches(table, ["x", "y"])
    assert batch.labels is None
    assert np.isnan(batch.features[1, 0]) and np.isnan(batch.features[2, 1])
    (labelled,) = example_batches(table, ["x"], "y")
    assert labelled.labels is not None and math.isnan(labelled.labels[2])


def test_iter_examples_yields_the_same_rows_as_python_values() -> None:
    table = three_batches()
    examples = list(iter_examples(table, ["x", "flag"], "y"))
    rows = np.concatenate(
        [b.features for b in example_batches(table, ["x", "flag"], "y", dtype=np.float64)]
    )
    assert [x for x, _ in examples] == rows.tolist()
    assert [y for _, y in examples] == [10 * i for i in range(15)]
    assert all(type(v) is float for x, _ in examples for v in x)
    nulls = pa.table({"x": [None], "y": [None]})
    assert next(iter_examples(nulls, ["x"], "y"))[1] is None


def test_iter_examples_keeps_the_order_across_a_large_batch() -> None:
    table = pa.table({"x": list(range(3000)), "y": [i % 7 for i in range(3000)]})
    examples = list(iter_examples(table, ["x"], "y"))
    assert [x for (x,), _ in examples] == [float(i) for i in range(3000)]
    assert [y for _, y in examples] == [i % 7 for i in range(3000)]


def test_missing_and_non_numeric_columns_are_named() -> None:
    table = pa.table({"x": [1], "plan": ["pro"], "label": [0]})
    with pytest.raises(ValueError, match=r"no column 'nope', 'gone' in the training set \(its"):
        next(example_batches(table, ["x", "nope"], "gone"))
    with pytest.raises(ValueError, match="feature 'plan' is string: features must be numbers"):
        next(iter_examples(table, ["plan"], "label"))


def test_a_built_training_set_yields_each_entitys_point_in_time_features(tmp_path: Path) -> None:
    plans(tmp_path)
    append_events(tmp_path, [event(0, T0 + HOUR, "u-1")])
    rows = entities(("u-1", T0 + 2 * DAY), ("u-2", T0 + HOUR), ("u-1", T0), ("u-1", T0 + 3 * HOUR))
    train = build(tmp_path, rows, DatasetSpec(history=(PLAN,)))
    (batch,) = example_batches(train.table, ["events_7d", "session_pages"], "label")
    # Entity order kept; the event at T0 + 1h is counted only for rows at or after it.
    assert batch.features[:, 0].tolist() == [1, 0, 0, 1]
    assert batch.labels is not None and batch.labels.tolist() == [0, 1, 2, 3]
    assert batch.features.shape == (4, 2)  # key, ts and the rest are not features unless named


@pytest.mark.skipif(NO_TORCH, reason=NO_TORCH_REASON)
def test_torch_dataset_wraps_the_batches_as_tensors(tmp_path: Path) -> None:
    import torch

    plans(tmp_path)
    append_events(tmp_path, [event(0, T0 + HOUR, "u-1")])
    rows = entities(("u-1", T0 + 2 * DAY), ("u-2", T0 + HOUR), ("u-1", T0 + 3 * HOUR))
    train = build(tmp_path, rows, DatasetSpec(history=(PLAN,)))
    loader = torch.utils.data.DataLoader(train.to_torch(["events_7d"], "label"), batch_size=3)
    x, y = next(iter(loader))
    assert x.dtype == torch.float32 and x.shape == (3, 1) and x[:, 0].tolist() == [1, 0, 1]
    assert y.tolist() == [0, 1, 2]
    unlabelled = next(iter(torch.utils.data.DataLoader(train.to_torch(["events_7d"]), 3)))
    assert torch.isnan(unlabelled[1]).all()
