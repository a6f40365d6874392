"""Run one CDC reader: connect the broker, load the stored position, stream until stopped.

The reader reconnects when the database goes away (`SourceUnavailableError`): it first waits for
the broker to acknowledge what was produced, then starts again at the durable position, backing
off up to `reconnect_max_s`. Every other `CdcError` ends the run; the CLI prints its cause and fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from headwater import transport
from headwater.contracts.positions import CdcPosition as Position
from headwater.logs import log_event
from headwater.sources import positions
from headwater.sources.cdc.config import CdcConfig
from headwater.sources.cdc.errors import CdcError, SourceUnavailableError
from headwater.sources.cdc.publisher import Publisher
from headwater.sources.topics import TopicsNotCreatedError, ensure_topics

log = logging.getLogger("headwater.cdc")


class Reader(Protocol):
    def run(self, stop: threading.Event) -> None: ...


def _reader(config: CdcConfig, publisher: Publisher, position: Position | None) -> Reader:
    if config.url.kind == "postgresql":
        from headwater.sources.cdc.postgres.reader import PostgresReader
        from headwater.sources.cdc.postgres.setup import prepare

        stored = int(position["lsn_int"]) if position else None
        slot = prepare(config, stored)
        progress = (position or {}).get("incremental")
        return PostgresReader(
            config, publisher, stored or 0, slot.needs_snapshot, incremental_progress=progress
        )
    from headwater.sources.cdc.mysql.reader import MySqlReader

    return MySqlReader(config, publisher, position)


def _check_position_kind(config: CdcConfig, position: dict | None) -> None:
    """A stored position of the other kind of database: the name is taken by another source."""
    if position is None:
        return
    is_pg = config.url.kind == "postgresql"
    if is_pg != ("lsn_int" in position):
        kind = "PostgreSQL LSN" if "lsn_int" in position else "MySQL/MariaDB binlog position"
        raise CdcError(
            f"the stored position of source {config.name!r} is a {kind}, not one of "
            f"{config.url.redacted()}: another source already uses this name",
            "give this source another --name (or --reset-position to start it afresh)",
        )


def connector_name(config: CdcConfig) -> str:
    return "postgresql" if config.url.kind == "postgresql" else "mysql"


def _topic_creator(conn: transport.Transport, config: CdcConfig) -> Callable[[str], None]:
    """Creates a topic before its first change (one admin call a new table, schema or transaction
    topic): durable, where auto-creation would take the broker's default replication."""

    def ensure(topic: str) -> None:
        try:
            with conn.admin() as admin:
                ensure_topics(admin, [topic])
        except TopicsNotCreatedError as exc:
            raise CdcError(
                f"broker {config.broker}: {exc}",
                "check the broker (and that this client may create topics); restart "
                "`headwater cdc`, it resumes from the last stored position",
            ) from None

    return ensure


def run(config: CdcConfig, stop: threading.Event, reset_position: bool = False) -> Publisher:
    """Stream changes until `stop` is set; returns the publisher (counts, durable position)."""
    conn = transport.connect(config.broker, client_id=f"headwater-cdc-{config.name}")
    try:
        try:
            conn.check()
            with conn.admin() as admin:
                positions.ensure_topic(admin)
            position = None if reset_position else positions.load_cdc(conn, config.name)
        except positions.PositionStoreError as exc:
            if exc.retriable:
                raise CdcError(
                    f"broker {config.broker}: {exc}", "start the broker or fix --broker"
                ) from None
            raise CdcError(  # a stored value that is not a position: the broker is fine
                str(exc), "start afresh with --reset-position (and a new snapshot if needed)"
            ) from None
        except transport.TransportError as exc:
            raise CdcError(
                f"broker {config.broker}: {exc}", "start the broker or fix --broker"
            ) from None
        log_event(
            log, "cdc_starting", source=config.name, db=config.url.redacted(), position=position
        )
        _check_position_kind(config, position)
        producer = conn.producer(transport.ProducerOptions(linger_ms=5))
        publisher = Publisher(
            producer,
            config.name,
            connector_name(config),
            save_interval_s=config.save_interval_s,
            ensure_topic=_topic_creator(conn, config),
        )
        backoff = 0.2
        try:
            while not stop.is_set():
                try:
                    _reader(config, publisher, position).run(stop)
                    backoff = 0.2
                except SourceUnavailableError as exc:
                    publisher.flush(30.0)
                    position = publisher.durable or position
                    log_event(
                        log,
                        "source_unavailable",
                        logging.WARNING,
                        source=config.name,
                        error=exc.cause,
                        retry_in_s=backoff,
                    )
                    stop.wait(backoff)
                    backoff = min(backoff * 2, config.reconnect_max_s)
        finally:
            publisher.flush(30.0)
            producer.close()
        log_event(
            log,
            "cdc_stopped",
            source=config.name,
            changes=publisher.changes,
            position=publisher.durable,
        )
        return publisher
    finally:
        conn.close()
