"""Chunk planning: key ranges cover every key of [low, high] exactly once, whatever the sizes."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from headwater.sources.snapshot.plan import key_ranges, page_ranges, tid_bounds


def _matches(clause: str, key: int) -> bool:
    for op, value in re.findall(r"k (>=|<) (-?\d+)", clause):
        if (op == ">=" and key < int(value)) or (op == "<" and key >= int(value)):
            return False
    return True


@given(
    low=st.integers(-(10**6), 10**6),
    span=st.integers(1, 3000),
    rows=st.integers(0, 10**6),
    chunk_rows=st.integers(1, 5000),
)
def test_key_ranges_cover_each_key_once(low: int, span: int, rows: int, chunk_rows: int) -> None:
    high = low + span - 1
    clauses = key_ranges("k", low, high, rows, chunk_rows)
    for key in [low - 5, low, (low + high) // 2, high, high + 5]:
        assert sum(_matches(c, key) for c in clauses) == 1
    assert len(clauses) <= span


def test_key_ranges_follow_the_estimate() -> None:
    assert len(key_ranges("k", 1, 1_000_000, 1_000_000, 250_000)) == 4
    assert key_ranges("k", 5, 5, 1, 100) == ["TRUE"]


def test_page_ranges_are_one_scan_for_small_tables() -> None:
    assert page_ranges(pages=1, rows=10, chunk_rows=100) == ["TRUE"]
    clauses = page_ranges(pages=100, rows=10_000, chunk_rows=2_500)
    assert clauses[0] == "ctid >= '(0,0)'::tid AND ctid < '(25,0)'::tid"
    assert clauses[-1] == "ctid >= '(75,0)'::tid"


@given(
    pages=st.integers(0, 2000),
    rows=st.integers(0, 10**6),
    chunk_rows=st.integers(50, 5000),
)
def test_tid_bounds_tile_the_heap_in_order(pages: int, rows: int, chunk_rows: int) -> None:
    bounds = tid_bounds(pages, rows, chunk_rows)
    assert bounds[0][0] == 0 and bounds[-1][1] == pages << 16
    assert all(start < stop for start, stop in bounds) or pages == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(start & 0xFFFF <= 291 for start, _ in bounds)  # item numbers a page can hold


def test_tid_bounds_split_pages_when_chunks_are_smaller_than_a_page() -> None:
    clauses = page_ranges(pages=9, rows=2_000, chunk_rows=100)
    assert len(clauses) == 27
    assert clauses[1] == "ctid >= '(0,75)'::tid AND ctid < '(0,150)'::tid"
