"""The `headwater` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headwater import __version__, snapshot_cli

app = typer.Typer(
    name="headwater",
    help="Data ingestion for machine learning: capture -> broker -> lake -> training sets.",
    no_args_is_help=True,
    add_completion=False,
)


def _split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


@app.command()
def broker(
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on and advertise.")] = (
        "127.0.0.1:9092"
    ),
    data_dir: Annotated[Path, typer.Option(help="Where partitions and offsets live.")] = Path(
        ".headwater/broker"
    ),
    advertised_host: Annotated[
        str | None,
        typer.Option(help="Host to advertise in metadata (default: the listen host, as given)."),
    ] = None,
    flush: Annotated[
        str,
        typer.Option(
            help="fsync policy: always (acks survive power loss), interval, never (OS decides).",
        ),
    ] = "interval",
    flush_interval_ms: Annotated[
        int, typer.Option(help="fsync period for --flush interval.")
    ] = 1000,
    auto_create_topics: Annotated[
        bool, typer.Option(help="Create unknown topics on Metadata and Produce.")
    ] = True,
    default_partitions: Annotated[int, typer.Option(help="Partitions of auto-created topics.")] = 1,
    retention_ms: Annotated[int, typer.Option(help="Default retention by time; -1 keeps all.")] = (
        7 * 24 * 3600 * 1000
    ),
    retention_bytes: Annotated[
        int, typer.Option(help="Default retention by partition size; -1 keeps all.")
    ] = -1,
    segment_bytes: Annotated[int, typer.Option(help="Roll a segment at this size.")] = 1 << 30,
    metrics_listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for the Prometheus /metrics endpoint.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the embedded Kafka-compatible broker in the foreground (Ctrl-C stops it cleanly)."""
    from headwater.broker.config import BrokerConfig
    from headwater.broker.log import LogConfig
    from headwater.broker.server import run
    from headwater.logs import setup_logging

    if flush not in ("always", "interval", "never"):
        raise typer.BadParameter("--flush must be always, interval or never")
    host, port = _split_listen(listen)
    metrics_host, metrics_port = _split_listen(metrics_listen) if metrics_listen else (None, 0)
    setup_logging(log_level)
    config = BrokerConfig(
        host=host,
        port=port,
        data_dir=data_dir,
        advertised_host=advertised_host,
        auto_create_topics=auto_create_topics,
        default_partitions=default_partitions,
        log=LogConfig(
            flush_policy=flush,
            flush_interval_ms=flush_interval_ms,  # type: ignore[arg-type]
            retention_ms=retention_ms,
            retention_bytes=retention_bytes,
            segment_bytes=segment_bytes,
        ),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
    )
    run(config)


@app.command()
def collect(
    listen: Annotated[str, typer.Option(help="HOST:PORT for HTTP.")] = "127.0.0.1:8080",
    broker: Annotated[
        str, typer.Option(help="embedded (127.0.0.1:9092), HOST:PORT or kafka://h1:9092,h2:9092.")
    ] = "embedded",
    write_key: Annotated[
        list[str] | None,
        typer.Option(help="KEY or KEY=SOURCE accepted from clients (repeatable); default: dev."),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin allowed to post from a browser (repeatable); default: any."),
    ] = None,
    ip_policy: Annotated[str, typer.Option(help="IP anonymisation: none, last_octet, hash.")] = (
        "last_octet"
    ),
    answer_on_enqueue: Annotated[
        bool,
        typer.Option(help="Answer 2xx when events are queued, not when the broker acknowledged."),
    ] = False,
    workers: Annotated[int, typer.Option(help="HTTP worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the clickstream HTTP collector (tracker, Segment-spec API, pixel) in the foreground."""
    import dataclasses

    from headwater.logs import setup_logging
    from headwater.sources.clickstream.config import CollectorConfig
    from headwater.sources.clickstream.serve import serve

    setup_logging(log_level)
    host, port = _split_listen(listen)
    keys = {}
    for item in write_key or ["dev"]:
        key, _, source = item.partition("=")
        keys[key] = source or key
    base = CollectorConfig()
    config = dataclasses.replace(
        base,
        broker=broker,
        write_keys=keys,
        cors_origins=tuple(cors_origin) if cors_origin else base.cors_origins,
        ack_before_response=not answer_on_enqueue,
        enrich=dataclasses.replace(base.enrich, ip_policy=ip_policy),
    )
    serve(config, host, port, workers)


@app.command()
def demo(
    records: Annotated[int, typer.Option(help="How many records to stream.")] = 2_000_000,
    partitions: Annotated[int, typer.Option(help="Partitions of the demo topic.")] = 6,
    broker: Annotated[
        str,
        typer.Option(
            help="embedded (start a private broker), HOST:PORT or kafka://h1:9092,h2:9092.",
        ),
    ] = "embedded",
) -> None:
    """Start an embedded broker, stream records through it and print what was measured."""
    from headwater.demo import run_demo

    run_demo(records=records, partitions=partitions, broker=broker)


app.command()(snapshot_cli.snapshot)
app.add_typer(snapshot_cli.import_app, name="import")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
