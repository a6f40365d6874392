"""valid_to within a batch, closing rows and current rows (lake.scd2), without Delta."""

from __future__ import annotations

import pyarrow as pa

from headwater.lake import scd2

US = 1000


def batch(*changes: tuple[str, str, str, int, str]) -> pa.Table:
    """(key, op, position, ts_ms, plan) per change, in arrival order."""
    n = len(changes)
    rows = pa.table({
        "plan": [c[4] for c in changes],
        "event_date": pa.array([0] * n, pa.int32()).cast(pa.date32()),
        "_partition": pa.array([0] * n, pa.int32()),
        "_offset": pa.array(range(n), pa.int64()),
    })  # fmt: skip
    return scd2.changes_table(
        rows, [c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes],
        [c[3] for c in changes],
    )  # fmt: skip


def ms(column: pa.ChunkedArray) -> list[int | None]:
    return [None if v is None else v // US for v in column.cast(pa.int64()).to_pylist()]


def test_each_version_ends_where_the_next_begins_and_a_delete_is_zero_length() -> None:
    changes = batch(
        ("b", "c", "05", 50, "x"),
        ("a", "c", "01", 10, "free"),
        ("a", "u", "02", 20, "pro"),
        ("a", "d", "03", 30, "pro"),
        ("a", "c", "04", 40, "again"),
    )
    h = scd2.history_rows(changes)
    assert h.column("_key").to_pylist() == ["a", "a", "a", "a", "b"]
    assert ms(h.column("valid_from")) == [10, 20, 30, 40, 50]
    assert ms(h.column("valid_to")) == [20, 30, 30, None, None]
    assert h.column_names == ["plan", "valid_from", "valid_to", "_op", "_position", "_key",
                              "event_date", "_partition", "_offset"]  # fmt: skip


def test_closing_rows_are_the_first_change_of_keys_that_may_be_open() -> None:
    changes = batch(("a", "u", "02", 20, "pro"), ("a", "u", "03", 30, "team"),
                    ("b", "c", "05", 50, "x"))  # fmt: skip
    closing = scd2.closing_rows(changes, {"a"})
    assert closing.to_pylist() == [
        {"_key": "a", "valid_from": closing.column("valid_from")[0].as_py(),
         "_position": "02", "_partition": 0, "_offset": 0},
    ]  # fmt: skip
    assert ms(closing.column("valid_from")) == [20]


def test_current_rows_are_the_last_change_of_each_key() -> None:
    changes = batch(("a", "c", "01", 10, "free"), ("a", "d", "02", 20, "free"),
                    ("b", "c", "03", 30, "x"), ("b", "u", "04", 40, "y"))  # fmt: skip
    cur = scd2.current_rows(changes)
    assert cur.select(["_key", "_op", "plan"]).to_pylist() == [
        {"_key": "a", "_op": "d", "plan": "free"},
        {"_key": "b", "_op": "u", "plan": "y"},
    ]
    assert ms(cur.column("_updated_at")) == [20, 40]


def test_an_empty_batch() -> None:
    changes = batch()
    assert scd2.history_rows(changes).num_rows == 0
    assert scd2.current_rows(changes).num_rows == 0
    assert scd2.closing_rows(changes, set()).num_rows == 0
