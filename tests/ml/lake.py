"""Real Delta tables for the ML tests: clickstream events through the sink's converter, and a
CDC-style history table (key, valid_from, valid_to, columns)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from headwater.lake.convert import Converter
from headwater.lake.tables import CLICKSTREAM_EVENTS

from ..lake.events import click_event, click_value

T0 = dt.datetime(2025, 11, 3, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
HISTORY = "cdc_shop_users_history"


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def event(
    n: int, at: dt.datetime, user: str | None, anon: str = "anon-x", video: str | None = None
) -> bytes:
    """Event `n` by `user` (or the anonymous visitor `anon`) at `at`: a page view, or a video
    play of `video`."""
    base = click_event(n)
    request = {**base["request"], "video_id": video}
    return click_value(
        n,
        ts=ms(at),
        client_ts=ms(at),
        sent_ts=ms(at),
        received_ts=ms(at),
        user_id=user,
        anonymous_id=anon,
        event="track:video_play" if video else "page",
        request=request,
    )


def append_events(lake: Path, values: list[bytes]) -> None:
    """Land values as the sink does (its converter), in one commit."""
    conv = Converter(CLICKSTREAM_EVENTS)
    n = len(values)
    out = conv.convert(values, [0] * n, list(range(n)), [None] * n, CLICKSTREAM_EVENTS.schema)
    conv.close()
    assert out.rejected == []
    write_deltalake(str(lake / CLICKSTREAM_EVENTS.name), out.table, mode="append",
                    partition_by=["event_date"])  # fmt: skip


def write_history(lake: Path, rows: list[dict[str, Any]]) -> None:
    """A new version of the whole history table (as an SCD2 writer's merge would leave it)."""
    schema = pa.schema([("user_id", pa.string()), ("plan", pa.string()),
                        ("valid_from", pa.timestamp("us", tz="UTC")),
                        ("valid_to", pa.timestamp("us", tz="UTC"))])  # fmt: skip
    write_deltalake(str(lake / HISTORY), pa.Table.from_pylist(rows, schema), mode="overwrite")
