"""The `headwater` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headwater import __version__, cdc_cli, dataset_cli, doctor_cli, lake_cli, snapshot_cli
from headwater.errors import EXIT_CODES, UsageError, boundary

app = typer.Typer(
    name="headwater",
    help="Data ingestion for machine learning: capture -> broker -> lake -> training sets.",
    epilog="Exit codes:\n\n" + "\n\n".join(f"{code:>3}  {meaning}" for code, meaning in EXIT_CODES),
    no_args_is_help=True,
    add_completion=False,
)


def _split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _parse_time_ms(value: str, option: str) -> int:
    """An ISO 8601 time as Unix milliseconds (a time without a zone is UTC)."""
    import datetime as dt

    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01T00:00:00Z)", param_hint=option
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return int(at.timestamp() * 1000)


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
    log_cleaner_backoff_ms: Annotated[
        int, typer.Option(help="Pause between passes of the compaction thread (Kafka's name).")
    ] = 15_000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the embedded Kafka-compatible broker in the foreground (Ctrl-C stops it cleanly)."""
    from headwater.broker.config import BrokerConfig
    from headwater.broker.log import LogConfig
    from headwater.broker.server import serve
    from headwater.logs import setup_logging
    from headwater.stopping import run_until_stopped

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
            flush_policy=flush,  # type: ignore[arg-type]  # checked above
            flush_interval_ms=flush_interval_ms,
            retention_ms=retention_ms,
            retention_bytes=retention_bytes,
            segment_bytes=segment_bytes,
        ),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        log_cleaner_backoff_ms=log_cleaner_backoff_ms,
    )
    run_until_stopped("broker", lambda stop: serve(config, stop), use_uvloop=True)


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
    ip_hash_secret: Annotated[
        str,
        typer.Option(envvar="HEADWATER_IP_HASH_SECRET", help="Key of --ip-policy hash."),
    ] = "",
    site_host: Annotated[
        list[str] | None,
        typer.Option(help="Your site's host: its referrers count as internal (repeatable)."),
    ] = None,
    trust_forwarded_for: Annotated[
        bool, typer.Option(help="Take the client IP from X-Forwarded-For (behind a proxy).")
    ] = False,
    tracker_path: Annotated[str, typer.Option(help="Path of the JS tracker.")] = "/t.js",
    collect_path: Annotated[str, typer.Option(help="Path of the tracker's POSTs.")] = "/collect",
    pixel_path: Annotated[str, typer.Option(help="Path of the GIF pixel.")] = "/p.gif",
    dedup_window_s: Annotated[
        int, typer.Option(help="Seconds an event id is remembered to drop retried duplicates.")
    ] = 600,
    ack_timeout_s: Annotated[
        float, typer.Option(help="Wait this long for the broker, then answer 202 (pending).")
    ] = 5.0,
    queue_max_events: Annotated[
        int, typer.Option(help="Events held for the broker; past it, requests get 503 at once.")
    ] = 100_000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the clickstream HTTP collector (tracker, Segment-spec API, pixel) in the foreground."""
    import dataclasses

    from headwater.logs import setup_logging
    from headwater.sources.clickstream.config import CollectorConfig
    from headwater.sources.clickstream.enrich import EnrichConfig
    from headwater.sources.clickstream.serve import serve
    from headwater.stopping import stopped

    setup_logging(log_level)
    host, port = _split_listen(listen)
    keys = {}
    for item in write_key or ["dev"]:
        key, _, source = item.partition("=")
        keys[key] = source or key
    base = CollectorConfig()
    try:
        config = dataclasses.replace(
            base,
            ack_timeout_s=ack_timeout_s,
            queue_max_events=queue_max_events,
            broker=broker,
            write_keys=keys,
            cors_origins=tuple(cors_origin) if cors_origin else base.cors_origins,
            ack_before_response=not answer_on_enqueue,
            tracker_path=tracker_path,
            collect_path=collect_path,
            pixel_path=pixel_path,
            dedup_window_s=dedup_window_s,
            trust_forwarded_for=trust_forwarded_for,
        )
    except ValueError as exc:  # e.g. an ack wait past the delivery timeout
        raise typer.BadParameter(str(exc)) from None
    try:
        enrich = EnrichConfig(
            ip_policy=ip_policy,  # type: ignore[arg-type]  # checked by EnrichConfig
            ip_hash_secret=ip_hash_secret,
            site_hosts=tuple(site_host or ()),
        )
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    serve(dataclasses.replace(config, enrich=enrich), host, port, workers)  # granian: signals
    stopped("collect")


@app.command()
def sink(
    lake: Annotated[Path, typer.Option(help="Directory of the lake's Delta tables.")] = Path(
        ".headwater/lake"
    ),
    broker: Annotated[
        str, typer.Option(help="embedded (127.0.0.1:9092), HOST:PORT or kafka://h1:9092,h2:9092.")
    ] = "embedded",
    topics: Annotated[
        list[str] | None,
        typer.Option(
            "--topics", "--topic", help="Topic to land (repeatable); default: clickstream.events."
        ),
    ] = None,
    group: Annotated[
        str, typer.Option(help="Consumer group; sinks of one group share the partitions.")
    ] = "headwater-sink",
    max_rows: Annotated[int, typer.Option(help="Commit a topic's batch at this many records.")] = (
        100_000
    ),
    max_bytes: Annotated[int, typer.Option(help="... or at this many bytes of values.")] = 64 << 20,
    max_age_s: Annotated[
        float, typer.Option(help="... or when its oldest record is this many seconds old.")
    ] = 5.0,
    session_timeout_ms: Annotated[
        int | None, typer.Option(help="Group session timeout (a dead sink's partitions move on).")
    ] = None,
    metrics_listen: Annotated[
        str | None, typer.Option(help="HOST:PORT for the Prometheus /metrics endpoint.")
    ] = None,
    dedup_window: Annotated[
        str,
        typer.Option(
            help="Drop a clickstream event whose event_id arrived within this long of a "
            "copy's (30s, 15m, 1h, 1d; 0s: keep all)."
        ),
    ] = "1h",
    since: Annotated[
        str | None,
        typer.Option(
            help="A partition the lake holds nothing of starts at its first record at or after "
            "this time (ISO 8601, e.g. 2026-12-01T00:00:00Z; no zone: UTC), not its earliest."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Land topics in Delta tables exactly once until Ctrl-C/SIGTERM (commits what it holds)."""
    import threading

    import headwater.transport as hwt
    from headwater.contracts.topics import CLICKSTREAM_EVENTS
    from headwater.logs import setup_logging
    from headwater.sink.runner import SinkConfig, run_sink
    from headwater.stopping import stop_on_signals

    setup_logging(log_level)
    chosen: list[str] = []
    for item in topics or [CLICKSTREAM_EVENTS]:
        chosen += [t for t in item.split(",") if t]
    config = SinkConfig(
        lake=lake,
        topics=tuple(dict.fromkeys(chosen)),
        group=group,
        max_rows=max_rows,
        max_bytes=max_bytes,
        max_age_s=max_age_s,
        consumer=hwt.ConsumerOptions(session_timeout_ms=session_timeout_ms),
        metrics_listen=_split_listen(metrics_listen) if metrics_listen else None,
        dedup_window_s=snapshot_cli.parse_duration(dedup_window),
        since_ms=None if since is None else _parse_time_ms(since, "--since"),
    )
    stop = threading.Event()
    with stop_on_signals("sink", stop.set):
        run_sink(broker, config, stop)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL; every lake table is there by name.")],
    lake: Annotated[Path, typer.Option(help="Directory of the lake's Delta tables.")] = Path(
        ".headwater/lake"
    ),
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, json (one object a line) or parquet.")
    ] = "table",
    as_of: Annotated[
        int | None, typer.Option(help="Read the tables at this Delta version.")
    ] = None,
) -> None:
    """Run a DuckDB query over the lake and print the result (parquet: bytes to stdout)."""
    import sys

    import duckdb

    from headwater.query.output import write
    from headwater.query.sql import query

    if output_format not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("--format must be table, csv, json or parquet")
    try:
        result = query(lake, statement, as_of)
    except duckdb.Error as exc:
        raise UsageError(str(exc), "check the statement; `SHOW TABLES` lists the lake") from None
    write(result, output_format, sys.stdout.buffer)


app.add_typer(lake_cli.lake_app, name="lake")
app.add_typer(dataset_cli.dataset_app, name="dataset")
app.command()(cdc_cli.cdc)


@app.command()
def video(
    stream: Annotated[
        list[str],
        typer.Option(help="NAME=URL of a live HLS playlist, media or master (repeatable)."),
    ],
    lake: Annotated[
        str, typer.Option(help="Object area for segments and frames: a directory or s3://b/p.")
    ] = ".headwater/lake/objects",
    broker: Annotated[
        str, typer.Option(help="embedded (127.0.0.1:9092), HOST:PORT or kafka://h1:9092,h2:9092.")
    ] = "embedded",
    variant: Annotated[
        str,
        typer.Option(
            help="Master playlists: max-bandwidth, min-bandwidth, bandwidth=N, resolution=WxH|H."
        ),
    ] = "max-bandwidth",
    frames: Annotated[str, typer.Option(help="Frame sampling: none, keyframes or fps=N.")] = "none",
    frame_format: Annotated[str, typer.Option(help="jpeg, png or npy.")] = "jpeg",
    segment_retries: Annotated[int, typer.Option(help="Retries of a failed segment fetch.")] = 3,
    timeout_s: Annotated[float, typer.Option(help="Read timeout of a request, seconds.")] = 10.0,
    max_backoff_s: Annotated[
        float, typer.Option(help="Longest wait between reloads of a failing playlist.")
    ] = 8.0,
    decode_workers: Annotated[
        int, typer.Option(help="Threads decoding frames (default: one per core).")
    ] = 0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Follow live HLS streams: store every segment, record gaps, sample frames (Ctrl-C stops)."""
    import os

    from headwater.logs import setup_logging
    from headwater.sources.video.fetch import FetchPolicy
    from headwater.sources.video.frames import FrameSampling
    from headwater.sources.video.runner import StreamSpec, VideoConfig, run_video
    from headwater.stopping import run_until_stopped

    setup_logging(log_level)
    try:
        specs = []
        for item in stream:
            name, sep, url = item.partition("=")
            if not sep or not url:
                raise ValueError(f"--stream expects NAME=URL, got {item!r}")
            specs.append(StreamSpec(name, url, variant))
        sampling = None if frames == "none" else FrameSampling.parse(frames, frame_format)
        config = VideoConfig(
            broker=broker,
            lake=lake,
            streams=tuple(specs),
            frames=sampling,
            segment_fetch=FetchPolicy(read_timeout_s=timeout_s, retries=segment_retries),
            playlist_fetch=FetchPolicy(read_timeout_s=timeout_s, retries=0),
            max_backoff_s=max_backoff_s,
            decode_workers=decode_workers or os.cpu_count() or 1,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run_until_stopped("video", lambda stop: run_video(config, stop))


@app.command()
def demo(
    users: Annotated[
        int, typer.Option(help="Simulated users of the streaming service.", min=100)
    ] = 2000,
    days: Annotated[
        int,
        typer.Option(
            help="Simulated days, replayed as fast as possible (21 or more: three weekly "
            "cutoffs, each with a week to see who cancels).",
            min=21,
        ),
    ] = 42,
    workdir: Annotated[
        Path, typer.Option(help="Where the lake, logs and training set are left.")
    ] = Path(".headwater/demo"),
    broker_only: Annotated[
        bool, typer.Option(help="Only stream records through a broker and report its rates.")
    ] = False,
    records: Annotated[int, typer.Option(help="--broker-only: records to stream.")] = 2_000_000,
    partitions: Annotated[int, typer.Option(help="--broker-only: partitions of the topic.")] = 6,
    broker: Annotated[
        str,
        typer.Option(
            help="embedded (a broker of the demo's own) or a cluster: kafka://h1:9092,h2:9092 "
            "(or HOST:PORT)."
        ),
    ] = "embedded",
) -> None:
    """The whole platform on this machine: broker, collector, MariaDB + CDC, sink, camera,
    simulated users, then a churn model on point-in-time features (under 3 minutes)."""
    if broker_only:
        from headwater.demo.broker_check import run_demo as run_broker_demo

        run_broker_demo(records=records, partitions=partitions, broker=broker)
        return
    from headwater.demo.run import run_demo

    run_demo(users=users, days=days, workdir=workdir, broker=broker)


app.command()(snapshot_cli.snapshot)
app.command()(doctor_cli.doctor)
app.add_typer(snapshot_cli.import_app, name="import")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """The `headwater` command: every failure leaves through the one error boundary."""
    with boundary():
        app()
