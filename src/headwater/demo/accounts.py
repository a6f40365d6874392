"""The service's OLTP side: a `subscriptions` table in a private MariaDB, changed in place.

Each change runs at its simulated time (`SET timestamp`), which is what `NOW()` returns and what
MariaDB writes in the binlog event header, so the change events carry the time the change
"happened" and the lake's history is dated in simulated time. Updates overwrite the row, as OLTP
does: only CDC keeps who subscribed, upgraded and cancelled when.
"""

from __future__ import annotations

from collections.abc import Iterable

import pymysql

from headwater.demo.service import PLANS, Change

DATABASE = "streaming"
TABLE = "subscriptions"
SCHEMA = f"""
CREATE TABLE {DATABASE}.{TABLE} (
    user_id VARCHAR(16) NOT NULL PRIMARY KEY,
    plan VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    monthly_price DECIMAL(6, 2) NOT NULL,
    started_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL
)
"""

_SQL = {
    "subscribe": f"INSERT INTO {TABLE} VALUES (%s, %s, 'active', %s, NOW(3), NOW(3))",
    "upgrade": f"UPDATE {TABLE} SET plan = %s, monthly_price = %s, updated_at = NOW(3) "
    "WHERE user_id = %s",
    "cancel": f"UPDATE {TABLE} SET status = 'cancelled', updated_at = NOW(3) WHERE user_id = %s",
}


def create_schema(conn: pymysql.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute(SCHEMA)


class Accounts:
    """Applies subscription changes, each in its own transaction at its own time."""

    def __init__(self, conn: pymysql.Connection) -> None:
        self.conn = conn
        self.applied = 0
        with conn.cursor() as cur:
            cur.execute(f"USE {DATABASE}")

    def apply(self, changes: Iterable[Change]) -> int:
        n = 0
        with self.conn.cursor() as cur:
            for change in changes:
                cur.execute("SET timestamp = %s", (change.ts,))
                if change.kind == "subscribe":
                    args: tuple = (change.user_id, change.plan, PLANS[change.plan])
                elif change.kind == "upgrade":
                    args = (change.plan, PLANS[change.plan], change.user_id)
                else:
                    args = (change.user_id,)
                cur.execute(_SQL[change.kind], args)
                n += 1
            cur.execute("SET timestamp = DEFAULT")
        self.applied += n
        return n
