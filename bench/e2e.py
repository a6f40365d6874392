"""End-to-end freshness: the collector's acknowledgement -> the row queryable in the lake.

    .venv/bin/python bench/e2e.py [--rate 2000] [--batch 10] [--seconds 20] [--max-age-s 0.5]
                                  [--quick] [--json PATH]

Starts fresh, as subprocesses on free ports in a temporary directory: `headwater broker`,
`headwater collect` (write key `bench`) and `headwater sink --max-age-s S` on
`clickstream.events` (pre-created with `--partitions` partitions). Then:

  load      a paced, open-loop HTTP client (asyncio + aiohttp, keep-alive) posts `--batch`
            events a request at `--rate` events/s for `--seconds`, alternating Segment
            `/v1/batch` (basic auth, write key as user) and tracker `/collect?k=bench` requests;
            every event has a unique `messageId`, which the collector keeps as `event_id`. The
            collector answers 2xx only after the broker acknowledged: that answer's arrival is
            each event's acknowledgement time.
  watcher   a thread polls `<lake>/clickstream_events/_delta_log/` every 20 ms; for each new
            version it reads the `event_id` column of the files that version added and notes
            the poll's time: from then on those rows are queryable.

Freshness of an event = visible time - acknowledgement time. The baselines of the same run are the
collector's acknowledgement latency (request sent -> response, same load) and the sink's
`--max-age-s` (the longest a record waits in the sink's batch before its commit starts). At the
end every accepted event must be in the table exactly once (checked again with DuckDB); missing
ones are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import duckdb
import orjson
import pyarrow.parquet as pq
from deltalake import DeltaTable

import headwater.transport as hwt
from _harness import cpu_seconds, machine_cpu_seconds
from _net import free_port
from headwater.demo.processes import Processes, Service
from headwater.lake.read import register
from headwater.lake.tables import CLICKSTREAM_EVENTS

TOPIC = CLICKSTREAM_EVENTS.topic
TABLE = CLICKSTREAM_EVENTS.name
WRITE_KEY = "bench"
TARGET_P99_S = 2.0
POLL_S = 0.02
UA_WEB = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
UA_APP = "Watch/5.2.1 (iPhone; iOS 18.1; Scale/3.00)"
SITE = "https://watch.example"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=2_000, help="events/s")
    p.add_argument("--batch", type=int, default=10, help="events a request")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the load runs")
    p.add_argument("--max-age-s", type=float, default=0.5, help="the sink's --max-age-s")
    p.add_argument("--partitions", type=int, default=3, help="of clickstream.events")
    p.add_argument("--connections", type=int, default=64, help="the client's keep-alive pool")
    p.add_argument("--quick", action="store_true", help="a smoke run (~20 s)")
    p.add_argument("--keep", type=Path, help="keep the logs and the lake in this directory")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds = 5.0
    return args


# -- requests -------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    ids: list[str]
    sent: float = 0.0
    acked: float = 0.0
    status: int = 0
    accepted: int = 0
    error: str = ""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def build_requests(n_events: int, batch: int, prefix: str) -> list[Request]:
    """Requests of `batch` events each: even ones Segment `/v1/batch`, odd ones the tracker's
    `/collect` array. Event ids are `<prefix>-<uuid>`, unique to this run."""
    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    segment = {"Content-Type": "application/json", "Authorization": f"Basic {auth}"}
    tracker = {"Content-Type": "text/plain", "Origin": SITE}
    now = time.time()
    out = []
    for r, first in enumerate(range(0, n_events, batch)):
        events, ids = [], []
        for i in range(first, min(n_events, first + batch)):
            mid = f"{prefix}-{uuid.uuid4()}"
            ids.append(mid)
            user = i % 5_000
            session = f"s-{user}-{i // 200}"
            if r % 2 == 0:
                events.append({
                    "messageId": mid, "type": "track", "event": "video_play",
                    "anonymousId": f"anon-{user}", "userId": f"u-{user}",
                    "timestamp": _iso(now), "properties": {"video_id": f"v{i % 300}",
                                                           "position_s": i % 600},
                    "context": {"userAgent": UA_APP, "ip": f"10.1.{user % 250}.{i % 250}",
                                "library": {"name": "analytics-ios", "version": "4.1.0"},
                                "os": {"name": "iOS"}, "app": {"name": "Watch"},
                                "device": {"type": "ios"}, "sessionId": session},
                })  # fmt: skip
            else:
                url = f"{SITE}/watch/{i % 300}?utm_source=news&utm_medium=email"
                events.append({
                    "messageId": mid, "type": "page", "name": "Watch",
                    "anonymousId": f"anon-{user}", "timestamp": _iso(now), "sentAt": _iso(now),
                    "sessionId": session, "properties": {"section": "watch"},
                    "context": {"page": {"url": url, "path": f"/watch/{i % 300}",
                                         "referrer": "https://www.google.com/", "title": "Watch"},
                                "userAgent": UA_WEB, "ip": f"10.2.{user % 250}.{i % 250}",
                                "sessionId": session, "locale": "en-US",
                                "library": {"name": "headwater.js", "version": "1"}},
                })  # fmt: skip
        if r % 2 == 0:
            req = Request("/v1/batch", segment, orjson.dumps({"batch": events}), ids)
        else:
            req = Request(f"/collect?k={WRITE_KEY}", tracker, orjson.dumps(events), ids)
        out.append(req)
    return out


async def post(session: aiohttp.ClientSession, base: str, req: Request) -> None:
    req.sent = time.monotonic()
    try:
        async with session.post(base + req.path, data=req.body, headers=req.headers) as resp:
            body = await resp.read()
            req.acked = time.monotonic()
            req.status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        req.error = f"{type(exc).__name__}: {exc}"
        return
    if 200 <= req.status < 300:
        try:
            req.accepted = int(orjson.loads(body).get("accepted", len(req.ids)))
        except (orjson.JSONDecodeError, AttributeError):
            req.accepted = len(req.ids)  # an empty 2xx body: everything was taken
    else:
        req.error = f"{req.status} {body[:200].decode(errors='replace')}"


async def send_paced(base: str, reqs: list[Request], per_s: float, connections: int) -> int:
    """Open loop: request i is started at t0 + i / per_s whatever the earlier ones are doing.
    Returns how many started more than 5 ms late (the client, not the collector, fell behind)."""
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    late = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        t0 = time.monotonic() + 0.05
        for i, req in enumerate(reqs):
            delay = t0 + i / per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                late += 1
            tasks.append(asyncio.create_task(post(session, base, req)))
        await asyncio.gather(*tasks)
    return late


# -- the lake -------------------------------------------------------------------------------------


@dataclass
class Watcher:
    """Polls the table's Delta log; notes when each event id first became queryable."""

    table: Path
    seen: dict[str, float] = field(default_factory=dict)
    versions: list[tuple[int, float, int]] = field(default_factory=list)  # version, time, rows
    duplicates: int = 0
    error: str = ""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        log = self.table / "_delta_log"
        version = 0
        tick = time.monotonic()
        while not self._stop.is_set():
            while True:
                commit = log / f"{version:020d}.json"
                if not commit.exists():
                    break
                visible = time.monotonic()
                try:
                    actions = [orjson.loads(line) for line in commit.read_bytes().splitlines()]
                except orjson.JSONDecodeError:
                    break  # not expected (commits are renamed into place); read it next poll
                rows = 0
                for action in actions:
                    add = action.get("add")
                    if add is None:
                        continue
                    path = self.table / unquote(add["path"])
                    try:
                        ids = pq.read_table(path, columns=["event_id"]).column(0).to_pylist()
                    except Exception as exc:  # reported, never hangs the run
                        self.error = f"version {version}: {path}: {exc}"
                        ids = []
                    rows += len(ids)
                    for event_id in ids:
                        if event_id in self.seen:
                            self.duplicates += 1
                        else:
                            self.seen[event_id] = visible
                self.versions.append((version, visible, rows))
                version += 1
            tick += POLL_S
            self._stop.wait(max(0.0, tick - time.monotonic()))
            tick = max(tick, time.monotonic() - POLL_S)  # after a stall, do not burst


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and of its live descendants (the collector's HTTP workers)."""
    total = cpu_seconds(pid)
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu(int(child))
    return total


def duckdb_count(table: Path, prefix: str) -> tuple[int, int]:
    """(rows, distinct event ids) of this run's events, read with DuckDB from the Delta table."""
    con = duckdb.connect()
    try:
        register(con, "events", DeltaTable(str(table)))
        row = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE starts_with(event_id, ?)",
            [prefix + "-"],
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        con.close()


# -- the run --------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Nearest rank on sorted `values`."""
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    return {
        "n": len(v),
        "p50_s": quantile(v, 0.50),
        "p90_s": quantile(v, 0.90),
        "p99_s": quantile(v, 0.99),
        "max_s": v[-1],
        "min_s": v[0],
        "mean_s": sum(v) / len(v),
    }


def sink_commits(log_path: Path, first_version: int) -> list[dict[str, Any]]:
    """The sink's `lake_commit` log lines from `first_version` on (each with its seconds)."""
    out = []
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                entry = orjson.loads(line)
                if (
                    entry.get("event") == "lake_commit"
                    and entry.get("version", -1) >= first_version
                ):
                    out.append(entry)
    return out


def wait_landed(watcher: Watcher, ids: list[str], timeout: float, procs: Processes) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        procs.check()
        if watcher.error:
            raise RuntimeError(watcher.error)
        if all(i in watcher.seen for i in ids):
            return True
        time.sleep(0.05)
    return False


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    broker_port, http_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{broker_port}"
    base = f"http://127.0.0.1:{http_port}"
    lake = work / "lake"
    table = lake / TABLE
    prefix = f"e2e{os.getpid()}"
    services: dict[str, Service] = {}
    with Processes(work) as procs:
        services["broker"] = procs.headwater(
            "broker", "broker", "--listen", bootstrap, "--data-dir", str(work / "broker"),
            "--log-level", "warning",
        )  # fmt: skip
        services["broker"].wait_listening(broker_port)
        with hwt.connect(bootstrap) as t:
            t.admin().create_topics([hwt.TopicSpec(TOPIC, args.partitions)])
        services["collector"] = procs.headwater(
            "collector", "collect", "--listen", f"127.0.0.1:{http_port}", "--broker", bootstrap,
            "--write-key", WRITE_KEY, "--log-level", "warning",
        )  # fmt: skip
        services["sink"] = procs.headwater(
            "sink", "sink", "--lake", str(lake), "--broker", bootstrap, "--topic", TOPIC,
            "--group", "bench-e2e", "--max-age-s", str(args.max_age_s), "--log-level", "info",
        )  # fmt: skip
        services["collector"].wait_listening(http_port)
        watcher = Watcher(table)
        watcher.start()
        try:
            # Warm-up: the sink joins its group and creates the table; not measured.
            started = time.monotonic()
            warm = build_requests(20 * args.partitions, 20, f"{prefix}warm")
            asyncio.run(send_paced(base, warm, 50.0, args.connections))
            bad = [r.error for r in warm if r.error]
            if bad:
                raise RuntimeError(f"warm-up refused: {bad[0]}")
            if not wait_landed(watcher, [i for r in warm for i in r.ids], 90, procs):
                raise RuntimeError(f"warm-up did not land:\n{services['sink'].log_tail()}")
            warm_s = time.monotonic() - started
            first_version = len(watcher.versions)
            print(f"ready: warm-up landed in {warm_s:.1f} s (versions 0-{first_version - 1})")

            n_events = int(args.rate * args.seconds)
            reqs = build_requests(n_events, args.batch, prefix)
            pids = {name: s.proc.pid for name, s in services.items()}
            cpu0 = {name: tree_cpu(pid) for name, pid in pids.items()}
            self0 = time.process_time()
            machine0, t0 = machine_cpu_seconds()[0], time.monotonic()
            print(f"load: {n_events:,} events in {len(reqs):,} requests over {args.seconds:g} s")
            late = asyncio.run(send_paced(base, reqs, args.rate / args.batch, args.connections))
            load_s = time.monotonic() - t0
            accepted_ids = [i for r in reqs if r.status // 100 == 2 for i in r.ids]
            landed_all = wait_landed(watcher, accepted_ids, max(30.0, 20 * args.max_age_s), procs)
            t1 = time.monotonic()
            cpu1 = {name: tree_cpu(pid) for name, pid in pids.items()}
            self1 = time.process_time()
            machine1 = machine_cpu_seconds()[0]
            time.sleep(2 * POLL_S)
        finally:
            watcher.stop()
        for name in ("collector", "sink", "broker"):  # the sink commits what it holds
            procs.stop(services[name])
        duck_rows, duck_distinct = duckdb_count(table, prefix)
        commits = sink_commits(work / "sink.log", first_version)

    # -- figures ---------------------------------------------------------------------------------
    freshness, ack = [], []
    missing = 0
    for r in reqs:
        if r.status // 100 != 2:
            continue
        ack.append(r.acked - r.sent)
        for i in r.ids:
            seen = watcher.seen.get(i)
            if seen is None:
                missing += 1
            else:
                freshness.append(seen - r.acked)
    measured = [v for v in watcher.versions if v[0] >= first_version and v[2]]
    wall = t1 - t0
    cores = {name: (cpu1[name] - cpu0[name]) / wall for name in pids}
    cores["bench"] = (self1 - self0) / wall
    cores["other"] = max(0.0, (machine1 - machine0) / wall - sum(cores.values()))
    commit_s = sorted(float(c["seconds"]) for c in commits)
    fresh = summary(freshness)
    acks = summary(ack)
    errors: dict[str, int] = {}
    for r in reqs:
        if r.error:
            errors[r.error[:120]] = errors.get(r.error[:120], 0) + 1
    return {
        "config": {
            "rate": args.rate,
            "batch": args.batch,
            "seconds": args.seconds,
            "max_age_s": args.max_age_s,
            "partitions": args.partitions,
            "connections": args.connections,
        },
        "machine": {"cores": os.cpu_count(), "load_avg": os.getloadavg()},
        "warmup_s": warm_s,
        "load_s": load_s,
        "late_requests": late,
        "requests": len(reqs),
        "events_sent": n_events,
        "events_accepted": sum(r.accepted for r in reqs),
        "events_landed": sum(
            1 for r in reqs if r.status // 100 == 2 for i in r.ids if i in watcher.seen
        ),
        "events_missing": missing,
        "landed_all": landed_all and missing == 0,
        "duplicates": watcher.duplicates,
        "duckdb_rows": duck_rows,
        "duckdb_distinct": duck_distinct,
        "errors": errors,
        "negative_freshness": sum(1 for f in freshness if f < 0),
        "freshness": fresh,
        "ack_latency": acks,
        "versions": len(measured),
        "rows_per_version": sum(v[2] for v in measured) / max(1, len(measured)),
        "version_interval_s": (measured[-1][1] - measured[0][1]) / max(1, len(measured) - 1)
        if measured
        else 0.0,
        "commit_s": {
            "p50": quantile(commit_s, 0.5) if commit_s else None,
            "p99": quantile(commit_s, 0.99) if commit_s else None,
            "max": commit_s[-1] if commit_s else None,
        },
        "cores": cores,
        "target_p99_s": TARGET_P99_S,
        "p99_over_target": fresh.get("p99_s", math.inf) / TARGET_P99_S,
        "p99_over_max_age": fresh.get("p99_s", math.inf) / args.max_age_s,
        "p99_over_ack_p99": fresh.get("p99_s", math.inf) / max(1e-9, acks.get("p99_s", 1e-9)),
    }


def report(r: dict[str, Any]) -> str:
    c, f, a, k = r["config"], r["freshness"], r["ack_latency"], r["commit_s"]
    ms = 1000.0
    lines = [
        f"machine: {r['machine']['cores']} cores, load average "
        f"{r['machine']['load_avg'][0]:.2f}, Python {sys.version.split()[0]}",
        f"load: {c['rate']:,} events/s in {c['batch']}-event requests for {c['seconds']:g} s "
        f"(took {r['load_s']:.1f} s, {r['late_requests']} requests started > 5 ms late); "
        f"sink --max-age-s {c['max_age_s']}, {c['partitions']} partitions",
        f"events: sent {r['events_sent']:,}, accepted {r['events_accepted']:,}, landed "
        f"{r['events_landed']:,}, missing {r['events_missing']:,}, duplicates {r['duplicates']}; "
        f"DuckDB over the table: {r['duckdb_rows']:,} rows, {r['duckdb_distinct']:,} distinct ids",
    ]
    if r["errors"]:
        lines.append(f"refused or failed requests: {r['errors']}")
    if f:
        lines += [
            f"{'':<34} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}",
            f"{'freshness, ack -> queryable (s)':<34} {f['p50_s']:>8.3f} {f['p90_s']:>8.3f} "
            f"{f['p99_s']:>8.3f} {f['max_s']:>8.3f}",
            f"{'baseline: collector ack (ms)':<34} {a['p50_s'] * ms:>8.1f} {a['p90_s'] * ms:>8.1f} "
            f"{a['p99_s'] * ms:>8.1f} {a['max_s'] * ms:>8.1f}",
        ]
    if k["p50"] is not None:
        lines.append(
            f"{'sink commit (convert+write) (s)':<34} {k['p50']:>8.3f} {'':>8} {k['p99']:>8.3f} "
            f"{k['max']:>8.3f}"
        )
    lines.append(
        f"{r['versions']} versions, {r['rows_per_version']:.0f} rows each, one every "
        f"{r['version_interval_s']:.3f} s; cores: "
        + ", ".join(f"{name} {v:.2f}" for name, v in r["cores"].items())
    )
    if f:
        lines.append(
            f"p99 freshness / target ({r['target_p99_s']:g} s): {r['p99_over_target']:.2f}x "
            f"({'met' if f['p99_s'] <= r['target_p99_s'] else 'NOT met'}); "
            f"/ --max-age-s: {r['p99_over_max_age']:.2f}x; / ack p99: {r['p99_over_ack_p99']:.0f}x"
        )
    if r["events_accepted"] != r["events_sent"]:
        lines.append(f"NOT every event sent was accepted: {r['events_accepted']:,} accepted")
    if not r["landed_all"]:
        lines.append(f"NOT every accepted event landed: {r['events_missing']:,} missing")
    return "\n".join(lines)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_exit)  # the `with Processes` stops every service
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        result = run(args, work)
    except BaseException:
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name} (tail)", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        raise
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    complete = result["events_accepted"] == result["events_sent"] and result["landed_all"]
    return 0 if complete and not result["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
