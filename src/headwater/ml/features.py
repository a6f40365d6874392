"""Point-in-time feature joins: each entity row gets feature values as they were at its time.

Convention (Feast's get_historical_features): an entity row (key, ts, label…) sees a feature
value whose time is at or before `ts` (`<=`), never one from after it. Each function returns SQL
selecting `__row` (the entity row's position) and the feature columns, one row per entity row;
`dataset.py` joins them back onto the entities in their order.

- History tables (`cdc_<db>_<table>_history`: a key, `valid_from`, `valid_to` NULL for the current
  version): the version with the latest `valid_from <= ts` (a DuckDB ASOF join), and NULLs when
  that version had already ended (`valid_to <= ts`: the row was deleted by then).
- Clickstream: counts over the window `(ts - window, ts]`, and the visitor's session as of `ts`:
  the session of their last event at or before `ts`, aggregated over its events up to `ts` only
  (sessions.py's rule makes that the session a live system would have seen at `ts`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from headwater.ml.sessions import DEFAULT_GAP_MINUTES, SESSION_AGGREGATES, numbered_events_sql


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class HistoryFeatures:
    """Columns of a history table, keyed by `key`, valid from `valid_from` until `valid_to`.
    Output columns are named `<prefix><column>` (prefix default: the table's name and `__`)."""

    table: str
    key: str
    columns: tuple[str, ...]
    valid_from: str = "valid_from"
    valid_to: str = "valid_to"
    prefix: str | None = None

    def output(self, column: str) -> str:
        prefix = f"{self.table}__" if self.prefix is None else self.prefix
        return prefix + column

    def sql(self) -> str:
        h = "h"
        alive = f"({h}.{ident(self.valid_to)} IS NULL OR e.ts < {h}.{ident(self.valid_to)})"
        cols = ", ".join(
            f"CASE WHEN {alive} THEN {h}.{ident(c)} END AS {ident(self.output(c))}"
            for c in self.columns
        )
        return f"""
            SELECT e.__row, {cols}
            FROM entities e ASOF LEFT JOIN {ident(self.table)} {h}
              ON e.key = {h}.{ident(self.key)} AND e.ts >= {h}.{ident(self.valid_from)}
        """


@dataclass(frozen=True)
class ClickstreamFeatures:
    """Visitor activity from `clickstream_events` (entity key = `user_id`, else `anonymous_id`).

    Columns: `events_<w>`, `pages_<w>`, `videos_<w>`, `sessions_<w>` over the window, and
    `session_events`, `session_duration_s`, `session_pages`, `session_videos`, `session_bounce`,
    `session_idle_s` (seconds since the session's last event) for the session as of `ts`."""

    window: dt.timedelta = dt.timedelta(days=7)
    gap_minutes: float = DEFAULT_GAP_MINUTES
    table: str = "clickstream_events"

    @property
    def suffix(self) -> str:
        seconds = int(self.window.total_seconds())
        if seconds % 86_400 == 0:
            return f"{seconds // 86_400}d"
        if seconds % 3600 == 0:
            return f"{seconds // 3600}h"
        return f"{seconds}s"

    def sql(self) -> str:
        w = self.suffix
        window_us = int(self.window.total_seconds() * 1_000_000)
        return f"""
            WITH ev AS ({numbered_events_sql(self.gap_minutes, self.table)}),
            windowed AS (
                SELECT e.__row,
                       count(c.ts) AS events_{w},
                       count(c.ts) FILTER (WHERE c.event = 'page') AS pages_{w},
                       count(DISTINCT c.video_id) AS videos_{w},
                       count(DISTINCT c.session_no) AS sessions_{w}
                FROM entities e LEFT JOIN ev c
                  ON c.key = e.key AND c.ts <= e.ts
                 AND epoch_us(c.ts) > epoch_us(e.ts) - {window_us}
                GROUP BY e.__row
            ),
            latest AS (
                SELECT e.__row, e.key, e.ts AS at, c.session_no
                FROM entities e ASOF LEFT JOIN ev c ON e.key = c.key AND e.ts >= c.ts
            ),
            current AS (
                SELECT l.__row,
                       {SESSION_AGGREGATES.replace(" AS ", " AS session_")},
                       epoch(l.at - max(c.ts)) AS session_idle_s
                FROM latest l JOIN ev c
                  ON c.key = l.key AND c.session_no = l.session_no AND c.ts <= l.at
                GROUP BY l.__row, l.at
            )
            SELECT w.__row, events_{w}, pages_{w}, videos_{w}, sessions_{w},
                   session_events, session_duration_s, session_pages, session_videos,
                   session_bounce, session_idle_s
            FROM windowed w LEFT JOIN current s USING (__row)
        """
