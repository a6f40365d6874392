"""`headwater demo`: the whole platform on this machine, from capture to a trained model.

Starts, as separate processes on free ports: the embedded broker (or uses the Kafka cluster of
`--broker kafka://…`), a private MariaDB with the
service's `subscriptions` table, the collector, `headwater cdc` on the database, the sink, and a
live camera followed by `headwater video`. Then it simulates a video-streaming service over
`days` days, replayed as fast as the platform takes it: users browse and watch through the
tracker's API (web) and the Segment SDKs' (mobile, desktop, voice), and subscribe, upgrade and
cancel in the database. It waits until the lake holds everything the broker acknowledged, stops
every process, builds a churn training set with point-in-time features and trains a model.
The lake stays in `<workdir>/lake` for `headwater sql`; everything else is removed.

On a Kafka cluster the topics outlive the run and may hold other records: the run's CDC source,
camera and sink group get names of their own (`Names.for_run`), so no position stored by an
earlier run is resumed and no other sink shares the partitions, and the sink starts at the run's
start time (`--since`), so a fresh lake takes only what was written from then on. Records other
producers write to the same topics meanwhile land too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import headwater.transport as hwt
from headwater.contracts.topics import CLICKSTREAM_EVENTS, VIDEO_SEGMENTS, cdc_table
from headwater.demo import accounts, churn, report
from headwater.demo.camera import Camera
from headwater.demo.landing import wait_landed
from headwater.demo.processes import Processes, Service
from headwater.demo.service import Service as StreamingService
from headwater.demo.traffic import Traffic, TrafficStats
from headwater.demo.wire import Encoder
from headwater.local.mariadb import MariaDbServer
from headwater.local.ports import free_port

WRITE_KEY = "demo-write-key"
HISTORY = f"cdc_{accounts.DATABASE}_{accounts.TABLE}_history"
CURRENT = f"cdc_{accounts.DATABASE}_{accounts.TABLE}"
MIN_SEGMENTS = 4  # camera segments the demo waits for, however short the simulation


@dataclass(frozen=True)
class Names:
    """What the run's services are called on the broker: the CDC source (its topic and stored
    position), the camera stream (its stored position) and the sink's group."""

    source: str = "accounts"
    stream: str = "cam-1"
    group: str = "headwater-sink"

    @classmethod
    def for_run(cls) -> Names:
        """Names of this run's own, for a cluster that earlier runs and other users share."""
        run = uuid.uuid4().hex[:8]
        return cls(f"accounts-{run}", f"cam-{run}", f"headwater-demo-{run}")

    @property
    def cdc_topic(self) -> str:
        return cdc_table(self.source, accounts.DATABASE, accounts.TABLE)

    @property
    def topics(self) -> dict[str, int]:
        """The topics to create, with their partitions (kept as they are when they exist)."""
        return {CLICKSTREAM_EVENTS: 3, self.cdc_topic: 3, VIDEO_SEGMENTS: 1}

    @property
    def landed(self) -> dict[str, tuple[str, ...]]:
        """Each topic the sink lands, with its lake tables."""
        return {
            CLICKSTREAM_EVENTS: ("clickstream_events",),
            self.cdc_topic: (HISTORY, CURRENT),
            VIDEO_SEGMENTS: ("video_segments",),
        }


@dataclass
class DemoRun:
    """What the run did, for the report."""

    started: float
    traffic: TrafficStats
    simulate_s: float
    changes: int
    land_s: float
    left_behind: dict[str, int]


def run_demo(
    users: int = 2000,
    days: int = 42,
    workdir: Path = Path(".headwater/demo"),
    broker: str = "embedded",
) -> None:
    """Run the demo; `broker` is `embedded` (a broker of its own) or a Kafka cluster's URL."""
    cluster = hwt.parse_broker_url(broker)  # a wrong URL fails before anything starts
    console = Console()
    started = time.monotonic()
    lake = workdir / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    logs = workdir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="headwater-demo-") as tmp_name:
        tmp = Path(tmp_name)
        db = MariaDbServer(base=tmp / "mariadb")
        try:
            with Processes(logs) as procs:
                run = _platform(console, procs, db, tmp, lake, users, days, started, cluster)
        finally:
            db.remove()
    console.print("[green]✓[/] every process stopped; nothing left running")
    cutoffs = [_start(days) + dt.timedelta(days=d) for d in range(days - 21, days - 6, 7)]
    with console.status("training the churn model…"):
        result = churn.train(lake, HISTORY, cutoffs, workdir / "churn_training_set.parquet")
    total_s = time.monotonic() - started
    report.print_report(console, run, lake, result, total_s)
    summary = report.summary(run, lake, result, total_s)
    (workdir / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))


def _start(days: int) -> dt.datetime:
    """The first simulated day: `days` + 1 days ago, on the hour, so that the last day's late
    sessions are still in the past."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=days + 1)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _ok(console: Console, text: str) -> None:
    console.print(f"[green]✓[/] {text}")


def _platform(
    console: Console,
    procs: Processes,
    db: MariaDbServer,
    tmp: Path,
    lake: Path,
    users: int,
    days: int,
    started: float,
    cluster: hwt.BrokerUrl,
) -> DemoRun:
    camera = Camera(procs, tmp / "camera")
    if cluster.embedded:
        names, since_ms = Names(), None
        broker_port = free_port()
        broker = f"127.0.0.1:{broker_port}"
        procs.headwater(
            "broker", "broker", "--listen", broker, "--data-dir", str(tmp / "broker")
        ).wait_listening(broker_port)
        _ok(console, f"broker (embedded, Kafka protocol) on {broker}")
    else:
        names, broker = Names.for_run(), str(cluster)
        # Before any of the run's producers starts: the sink takes what was written from now on.
        since_ms = int(time.time() * 1000)
        _ok(console, f"Kafka cluster {broker} (run names: {names.source}, {names.stream})")
    with hwt.connect(broker) as transport:
        specs = [hwt.TopicSpec(t, partitions=n) for t, n in names.topics.items()]
        transport.admin().create_topics(specs, exist_ok=True)

        db.start()
        with db.connect() as conn:
            accounts.create_schema(conn)
        cdc_url = db.create_cdc_user("cdc", "cdc-secret")
        _ok(console, f"MariaDB (private, row binlog) on 127.0.0.1:{db.port}: "
                     f"{accounts.DATABASE}.{accounts.TABLE}")  # fmt: skip

        collector_port = free_port()
        collector = procs.headwater(
            "collector", "collect", "--listen", f"127.0.0.1:{collector_port}", "--broker", broker,
            "--write-key", WRITE_KEY, "--site-host", "watch.example",
        )  # fmt: skip
        collector.wait_listening(collector_port)
        _ok(console, f"collector on http://127.0.0.1:{collector_port} (tracker at /t.js)")

        cdc = procs.headwater(
            "cdc", "cdc", cdc_url, "--name", names.source, "--broker", broker,
            "--table", f"{accounts.DATABASE}.{accounts.TABLE}",
        )  # fmt: skip
        _wait_log(cdc, "binlog_started", 30)
        _ok(console, f"cdc: binlog of {accounts.DATABASE}.{accounts.TABLE} → {names.cdc_topic}")

        procs.headwater(
            "sink", "sink", "--lake", str(lake), "--broker", broker, "--group", names.group,
            *(arg for topic in names.landed for arg in ("--topic", topic)),
            "--max-age-s", "3", "--max-rows", "250000",
            *([] if since_ms is None else ["--since", _iso(since_ms)]),
        )  # fmt: skip
        _ok(console, f"sink: {', '.join(names.landed)} → {lake} (Delta, exactly once)")

        video = procs.headwater(
            "video", "video", "--stream", f"{names.stream}={camera.url}",
            "--lake", str(lake / "objects"),
            "--broker", broker, "--frames", "keyframes",
        )  # fmt: skip
        _ok(console, f"video: live camera {camera.url} (ffmpeg, 2 s segments)")

        sim_started = time.monotonic()
        with db.connect() as conn:
            traffic, changes = asyncio.run(
                _simulate(console, procs, conn, collector_port, users, days)
            )
        simulate_s = time.monotonic() - sim_started
        # A short run must still show the camera: a few segments stored before it stops.
        _wait_segments(video, lake / "objects", MIN_SEGMENTS, timeout_s=30)
        for service in (video, cdc, collector):  # sources first: what they hold is flushed
            procs.stop(service)
        land_started = time.monotonic()
        with Progress(
            TextColumn("landing in the lake"), BarColumn(), TextColumn("{task.fields[left]}"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("land", total=None, left="")
            left = wait_landed(
                transport, lake, names.group, names.landed, timeout_s=120, since_ms=since_ms,
                on_progress=lambda n: progress.update(task, left=f"{n:,} records to go"),
                check=procs.check,
            )  # fmt: skip
        land_s = time.monotonic() - land_started
        _ok(console, f"lake caught up with the broker in {land_s:.1f} s"
                     if not any(left.values()) else f"[red]lake behind: {left}")  # fmt: skip
    camera.stop()
    return DemoRun(started, traffic, simulate_s, changes, land_s, left)


async def _simulate(
    console: Console, procs: Processes, conn: object, port: int, users: int, days: int
) -> tuple[TrafficStats, int]:
    service = StreamingService(users, days, _start(days).timestamp())
    db = accounts.Accounts(conn)  # type: ignore[arg-type]
    encoder = Encoder(WRITE_KEY)
    changes = db.apply(service.initial_rows())
    async with Traffic(f"http://127.0.0.1:{port}") as traffic:
        with Progress(
            TextColumn("simulating {task.fields[users]:,} users"), BarColumn(),
            MofNCompleteColumn(), TextColumn("days · {task.fields[rate]}"), TimeElapsedColumn(),
            console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("days", total=days, users=users, rate="")
            began = time.monotonic()
            for d in range(days):
                procs.check()
                day = service.day(d)
                changes += db.apply(day.changes)
                now = time.time()
                await traffic.send([r for s in day.sessions for r in encoder.requests(s, now)])
                rate = traffic.stats.accepted / max(1e-9, time.monotonic() - began)
                progress.update(
                    task, advance=1,
                    rate=f"{traffic.stats.accepted:,} events, {rate:,.0f}/s, "
                    f"{changes:,} DB changes",
                )  # fmt: skip
    return traffic.stats, changes


def _wait_segments(video: Service, objects: Path, count: int, timeout_s: float) -> None:
    """Until `count` camera segments are stored (`<stream>/<date>/<sequence>.ts`)."""
    end = time.monotonic() + timeout_s
    while len(list(objects.glob("*/*/*.ts"))) < count and time.monotonic() < end:
        video.check()
        time.sleep(0.2)


def _wait_log(service: Service, text: str, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while text not in service.log_tail(200):
        service.check()
        if time.monotonic() > end:
            raise RuntimeError(
                f"{service.name}: no {text!r} after {timeout_s}s:\n{service.log_tail()}"
            )
        time.sleep(0.1)
