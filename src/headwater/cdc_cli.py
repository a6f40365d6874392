"""`headwater cdc`: its options. Its errors (CdcError: cause and fix) leave through the CLI's one
boundary (`headwater.errors`): `error:`/`fix:` on stderr, exit 2."""

from __future__ import annotations

from typing import Annotated

import typer


def cdc(
    source_url: Annotated[
        str,
        typer.Argument(
            help="postgresql://user:pw@host:port/db or mariadb://user:pw@host:port (mysql://).",
            show_default=False,
        ),
    ],
    name: Annotated[
        str, typer.Option(help="Source name: topic prefix cdc.<name>.… and position key.")
    ],
    broker: Annotated[
        str, typer.Option(help="embedded (127.0.0.1:9092), HOST:PORT or kafka://h1:9092,h2:9092.")
    ] = "embedded",
    table: Annotated[
        list[str] | None,
        typer.Option(help="schema.table (db.table) to capture (repeatable); default: all."),
    ] = None,
    tombstones: Annotated[
        bool, typer.Option(help="Follow each delete with a tombstone (null value).")
    ] = False,
    transactions: Annotated[
        bool,
        typer.Option(
            help="Transaction metadata: BEGIN/END on cdc.<name>.transaction and a transaction "
            "block (id, order) in each change."
        ),
    ] = False,
    capture_ddl: Annotated[
        bool,
        typer.Option(
            help="PostgreSQL: DDL to cdc.<name>.schema through an event trigger (created when "
            "the user may, else the SQL to run is printed)."
        ),
    ] = False,
    signal_table: Annotated[
        str | None,
        typer.Option(
            help="db.table (PostgreSQL: schema.table) with columns (id, type, data) where rows "
            "ask for incremental snapshots and the reader writes its watermarks."
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(help="Rows per incremental snapshot chunk.", min=1)
    ] = 1024,
    snapshot: Annotated[
        bool,
        typer.Option(
            help="On the first run, read every row (op r) before streaming, consistent with "
            "the stream (PostgreSQL, MariaDB)."
        ),
    ] = False,
    slot: Annotated[
        str | None, typer.Option(help="PostgreSQL replication slot (default headwater_<name>).")
    ] = None,
    server_id: Annotated[
        int, typer.Option(help="MySQL/MariaDB replica server id (default: derived from --name).")
    ] = 0,
    reset_position: Annotated[
        bool,
        typer.Option(help="Ignore the stored position and start from the database's current one."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Stream every insert, update and delete of a database to the broker (Ctrl-C stops)."""
    import threading

    from headwater.logs import setup_logging
    from headwater.sources.cdc import CdcConfig, SourceUrl, run
    from headwater.stopping import stop_on_signals

    setup_logging(log_level)
    stop = threading.Event()
    config = CdcConfig(
        name=name,
        url=SourceUrl.parse(source_url),
        broker=broker,
        tables=tuple(table or ()),
        tombstones=tombstones,
        transactions=transactions,
        capture_ddl=capture_ddl,
        signal_table=signal_table,
        chunk_rows=chunk_rows,
        snapshot=snapshot,
        slot=slot,
        server_id=server_id,
    )
    with stop_on_signals("cdc", stop.set):
        run(config, stop, reset_position=reset_position)
