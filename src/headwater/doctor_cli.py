"""`headwater doctor`: its options. An unreachable broker leaves through the CLI's one boundary
(`headwater.errors`: `error:`/`fix:` on stderr, exit 69); findings decide exit 0 or 1."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def doctor(
    broker: Annotated[
        str,
        typer.Option(
            help="embedded (127.0.0.1:9092), HOST:PORT or kafka://h1:9092,h2:9092 "
            "(?client.rack=ZONE allowed)."
        ),
    ] = "embedded",
    topic: Annotated[
        list[str] | None,
        typer.Option(
            help="Also check this topic (repeatable); headwater's own are always checked."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the broker's answers.", min=0.1)
    ] = 10.0,
) -> None:
    """Check the broker or cluster and headwater's topics against the durability promise
    (replication factor 3, min.insync.replicas 2, unclean election off, copies in distinct zones,
    acks=all + idempotent producers); print what to change, most urgent first.

    Exit 0 when nothing is CRITICAL or HIGH, 1 when something is, 69 when no broker answers."""
    import headwater.transport as hwt
    from headwater import doctor as checks
    from headwater.logs import setup_logging

    setup_logging("error")  # librdkafka's reconnect chatter would bury the report
    names = tuple(t for item in topic or () for t in item.split(",") if t)
    with hwt.connect(broker, client_id="headwater-doctor") as transport:
        transport.check(timeout_s)  # BrokerUnavailableError: exit 69 at the boundary
        report = checks.examine(transport, names, timeout_s)
    if as_json:
        typer.echo(checks.as_json(report))
    else:
        typer.echo(checks.as_text(report, colour=sys.stdout.isatty()))
    raise typer.Exit(report.exit_code)
