"""Sessionised clickstream, computed in DuckDB: a session ends after an inactivity gap.

Rule: events of one visitor (`user_id`, else `anonymous_id`) ordered by `ts` (then `event_id`)
start a new session when more than `gap_minutes` passed since the visitor's previous event. An
event's session therefore depends only on earlier events, never on later ones: the sessions of
the events up to a time t are the same whatever happens after t, which is what lets
`features.py` compute a session "as of t" without leaking the future.

Per session: `events`, `duration_s` (first to last event), `pages` (page views), `videos`
(distinct `request.video_id`), `bounce` (a session of one event).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

DEFAULT_GAP_MINUTES = 30
VISITOR = "coalesce(user_id, anonymous_id)"


def numbered_events_sql(gap_minutes: float, table: str = "clickstream_events") -> str:
    """One row per event with its visitor `key` and `session_no` (1, 2, … per visitor)."""
    gap_us = int(gap_minutes * 60_000_000)
    return f"""
        SELECT key, ts, event, video_id,
               sum(new_session) OVER (PARTITION BY key ORDER BY ts, event_id
                                      ROWS UNBOUNDED PRECEDING)::BIGINT AS session_no
        FROM (
            SELECT key, ts, event, event_id, video_id,
                   CASE WHEN epoch_us(ts) - lag(epoch_us(ts)) OVER w <= {gap_us}
                        THEN 0 ELSE 1 END AS new_session
            FROM (SELECT {VISITOR} AS key, ts, event, event_id,
                         request.video_id AS video_id
                  FROM {table} WHERE {VISITOR} IS NOT NULL)
            WINDOW w AS (PARTITION BY key ORDER BY ts, event_id)
        )
    """


SESSION_AGGREGATES = """
    count(*) AS events,
    epoch(max(ts) - min(ts)) AS duration_s,
    count(*) FILTER (WHERE event = 'page') AS pages,
    count(DISTINCT video_id) AS videos,
    count(*) = 1 AS bounce
"""


def sessions_sql(gap_minutes: float = DEFAULT_GAP_MINUTES) -> str:
    return f"""
        SELECT key, session_no, min(ts) AS session_start, max(ts) AS session_end,
               {SESSION_AGGREGATES}
        FROM ({numbered_events_sql(gap_minutes)})
        GROUP BY key, session_no
        ORDER BY key, session_no
    """


def sessions(con: duckdb.DuckDBPyConnection, gap_minutes: float = DEFAULT_GAP_MINUTES) -> pa.Table:
    """Every session of `clickstream_events` as registered in `con` (`LakeSnapshot.register`)."""
    return con.sql(sessions_sql(gap_minutes)).to_arrow_table()
