"""Incremental snapshot chunks from MariaDB/MySQL (`sources.cdc.incremental`'s `ChunkSource`)."""

from __future__ import annotations

from typing import Any

import orjson
import pymysql

from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.mysql import settings
from headwater.sources.cdc.mysql.snapshot import primary_keys, quote, read_rows


class MySqlChunks:
    """Reads chunks and writes watermarks on its own autocommit connection (UTC session)."""

    errors = (pymysql.Error,)

    def __init__(self, config: CdcConfig) -> None:
        assert config.signal_table is not None
        self.config = config
        self.signal_db, self.signal_table = config.signal_table.split(".", 1)
        self._conn: pymysql.Connection | None = None

    def primary_key(self, db: str, table: str) -> list[str]:
        with self._connection().cursor() as cur:
            return primary_keys(cur, db, table)

    def read_chunk(
        self, db: str, table: str, pk: list[str], after: tuple[Any, ...] | None, limit: int
    ) -> list[dict[str, Any]]:
        cols = ", ".join(map(quote, pk))
        where, args = "", ()
        if after is not None:
            where = f"WHERE ({cols}) > ({', '.join(['%s'] * len(pk))})"
            args = after
        with self._connection().cursor() as cur:
            cur.execute(
                f"SELECT * FROM {quote(db)}.{quote(table)} {where} "
                f"ORDER BY {cols} LIMIT {int(limit)}",
                args,
            )
            return list(read_rows(cur))

    def insert_signal(self, signal_id: str, kind: str, collection: str) -> None:
        with self._connection().cursor() as cur:
            cur.execute(
                f"INSERT INTO {quote(self.signal_db)}.{quote(self.signal_table)} "
                "(id, type, data) VALUES (%s, %s, %s)",
                (signal_id, kind, orjson.dumps({"data-collection": collection}).decode()),
            )

    def _connection(self) -> pymysql.Connection:
        if self._conn is None:
            url = self.config.url
            try:
                kwargs = settings.connection_settings(url)
                kwargs["password"] = kwargs.pop("passwd")  # pymysql's name (passwd: deprecated)
                self._conn = pymysql.connect(**kwargs, autocommit=True)
            except pymysql.Error as exc:
                raise settings.translate(exc, url) from None
            with self._conn.cursor() as cur:
                cur.execute("SET SESSION time_zone = '+00:00'")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
