"""FrozenDict: reads like the dict it was built from, refuses every change."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from headwater.sources.clickstream.enrich.frozen import FrozenDict

ITEMS = {"source": "news", "medium": "email", "name": None}


def frozen() -> FrozenDict[str, str | None]:
    return FrozenDict(ITEMS)


def test_reads_compares_and_serialises_like_the_dict() -> None:
    got = frozen()
    assert got == ITEMS
    assert dict(ITEMS) == got  # from the dict side too
    assert list(got.items()) == list(ITEMS.items())
    assert orjson.dumps(got) == orjson.dumps(ITEMS)
    assert FrozenDict(source="news") == {"source": "news"}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("source", "x"),
        lambda d: d.__delitem__("source"),
        lambda d: d.__ior__({"x": "y"}),
        lambda d: d.update(source="x"),
        lambda d: d.setdefault("x", "y"),
        lambda d: d.pop("source"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
    ],
)
def test_every_change_is_refused(change: Callable[[Any], object]) -> None:
    got = frozen()
    with pytest.raises(TypeError, match="read-only"):
        change(got)
    assert got == ITEMS


def test_calling_init_again_changes_nothing() -> None:
    got = frozen()
    got.__init__({"source": "x"})  # type: ignore[misc]
    assert got == ITEMS


def test_copies_to_change_are_plain_dicts() -> None:
    got = frozen()
    assert type(got.copy()) is dict
    assert type(got | {"x": "y"}) is dict


def test_copy_and_pickle_keep_it_frozen() -> None:
    for again in (
        copy.copy(frozen()),
        copy.deepcopy(frozen()),
        pickle.loads(pickle.dumps(frozen())),
    ):
        assert type(again) is FrozenDict
        assert again == ITEMS
