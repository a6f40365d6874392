"""Stream a PostgreSQL database's changes from its replication slot into a `Publisher`.

The replication connection (psycopg2's LogicalReplicationConnection) starts at the durable
position; the server starts at the later of that and the slot's confirmed flush LSN. Feedback:
the flush LSN sent to the server is only ever a position `_headwater.positions` holds, i.e. one
the broker acknowledged (`Publisher` rule 3), so the slot never releases an unacknowledged
change. On an idle database psycopg2 answers the server's keepalives by moving the flush LSN to
the server's WAL end once everything received is confirmed, so the slot keeps up and WAL does not
pile up (the heartbeat).

A lost connection raises `SourceUnavailableError`; the runner reconnects and starts again at the
durable position.
"""

from __future__ import annotations

import logging
import select
import threading
from typing import Any

import psycopg2
import psycopg2.extras

from headwater.contracts.positions import CdcPosition as Position
from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.errors import SourceUnavailableError
from headwater.sources.cdc.incremental import IncrementalSnapshots
from headwater.sources.cdc.postgres import ddl, snapshot
from headwater.sources.cdc.postgres.chunks import PostgresChunks
from headwater.sources.cdc.postgres.decode import (
    WAL2JSON_OPTIONS,
    Wal2JsonDecoder,
    lsn_to_str,
    str_to_lsn,
)
from headwater.sources.cdc.postgres.setup import PLUGIN, dsn, translate
from headwater.sources.cdc.publisher import Publisher

log = logging.getLogger("headwater.cdc.postgres")

_POLL_EVERY = 512  # serve delivery reports after this many messages


class PostgresReader:
    """One replication session; `run` returns when `stop` is set."""

    def __init__(
        self,
        config: CdcConfig,
        publisher: Publisher,
        start_lsn: int,
        snapshot: bool = False,
        incremental_progress: dict[str, Any] | None = None,
    ) -> None:
        """`incremental_progress`: the stored position's incremental snapshot, to go on with."""
        self.config = config
        self.publisher = publisher
        self.start_lsn = start_lsn
        self.snapshot = snapshot
        self.incremental_progress = incremental_progress
        self._cursor: psycopg2.extras.ReplicationCursor | None = None

    def run(self, stop: threading.Event) -> None:
        url = self.config.url
        conn = None
        try:
            conn = psycopg2.connect(
                dsn(url), connection_factory=psycopg2.extras.LogicalReplicationConnection
            )
            cur = self._start(conn)
        except psycopg2.Error as exc:
            if conn is not None:
                conn.close()
            raise translate(exc, url) from None
        try:
            self._stream(cur, stop)
        except psycopg2.Error as exc:
            # Mid-stream the causes are the server going away ("terminating connection", "no
            # COPY in progress" after a shutdown): reconnecting is the fix.
            raise SourceUnavailableError(
                f"PostgreSQL at {url.host}:{url.port} ended replication: {str(exc).strip()}"
            ) from None
        finally:
            self._cursor = None
            conn.close()

    def _start(self, conn: psycopg2.extensions.connection) -> psycopg2.extras.ReplicationCursor:
        cur = conn.cursor()
        if self.snapshot:
            cur.create_replication_slot(self.config.slot_name, output_plugin=PLUGIN)
            _, consistent_point, snapshot_name, _ = cur.fetchone()
            log_event(log, "slot_created", slot=self.config.slot_name, lsn=consistent_point)
            self.start_lsn = str_to_lsn(consistent_point)
            # The exported snapshot lives while this connection runs no other command.
            snapshot.take(self.config, snapshot_name, self.start_lsn, self.publisher)
        options = dict(WAL2JSON_OPTIONS)
        if self.config.tables:
            extra = [self.config.signal_table] if self.config.signal_table else []
            if self.config.capture_ddl:
                extra.append(f"{ddl.SCHEMA}.{ddl.TABLE}")
            options["add-tables"] = ",".join([*self.config.tables, *extra])
        cur.start_replication(
            slot_name=self.config.slot_name,
            decode=False,
            start_lsn=self.start_lsn,
            options=options,
            status_interval=max(1, int(self.config.heartbeat_s)),
        )
        self._cursor = cur
        self.publisher.set_on_durable(self.confirm)
        log_event(
            log,
            "replication_started",
            slot=self.config.slot_name,
            start_lsn=lsn_to_str(self.start_lsn),
        )
        return cur

    def _stream(self, cur: psycopg2.extras.ReplicationCursor, stop: threading.Event) -> None:
        incremental = None
        catalog = PostgresChunks(self.config)
        if self.config.signal_table:
            incremental = IncrementalSnapshots(
                self.config, catalog, self.publisher.change, self.incremental_progress
            )
            self.publisher.carry(incremental.progress)
            incremental.resume()
        decoder = Wal2JsonDecoder(
            self.config.name,
            self.config.url.database or "",
            self.publisher,
            self.config.tombstones,
            self.config.transactions,
            incremental,
            self.config.capture_ddl,
            primary_key=catalog.primary_key,
        )
        try:
            self._follow(cur, stop, decoder)
        finally:
            catalog.close()

    def _follow(
        self,
        cur: psycopg2.extras.ReplicationCursor,
        stop: threading.Event,
        decoder: Wal2JsonDecoder,
    ) -> None:
        decode = decoder.decode
        read = cur.read_message
        poll = self.publisher.poll
        count = 0
        while not stop.is_set():
            msg = read()
            if msg is not None:
                decode(msg.payload, msg.data_start)
                count += 1
                if count % _POLL_EVERY == 0:
                    poll(0)
                continue
            poll(0)
            select.select([cur], [], [], 0.05)
        if self.publisher.flush(10.0) and self.publisher.durable is not None:
            lsn = int(self.publisher.durable["lsn_int"])
            cur.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)

    def confirm(self, position: Position) -> None:
        """Tell the server the broker holds everything up to `position` (runs on our thread)."""
        cur = self._cursor
        if cur is not None:
            lsn = int(position["lsn_int"])
            cur.send_feedback(write_lsn=lsn, flush_lsn=lsn)
