"""Collector benchmark: events/s accepted with full enrichment and broker acknowledgement.

Against nginx answering `return 204` on the same machine with the same load generator (wrk), as
the baseline, in the same run. wrk runs pinned to one core; the server under test (nginx, or the
collector with its broker) to the other, as the issue asks. Scenarios: (a) one event per request
(`POST /collect`), (b) 50 events per request (`POST /v1/batch`, Segment format); keep-alive.
A third row serves an empty ASGI app with granian as the collector is served (bench/_bare_asgi.py):
the ceiling of the Python HTTP server itself, so the table separates its cost from the collector's.

    .venv/bin/python bench/collector.py [--seconds 10] [--connections 64] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from _net import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"
LOAD_CPU = "1"
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def event(i: int) -> dict:
    return {
        "type": "track",
        "event": "video_play",
        "anonymousId": f"anon-{i % 5000}",
        "messageId": f"m-{i}-{ID_MARK}",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "properties": {"video_id": f"v{i % 300}", "position_s": i % 600},
        "context": {
            "page": {
                "url": f"https://watch.example/v/{i % 300}?utm_source=news",
                "referrer": "https://www.google.com/",
            },
            "userAgent": UA,
            "sessionId": f"s-{i % 5000}",
        },
    }


ID_MARK = "@ID@"  # where each event's messageId goes; wrk fills a fresh one per request


def wrk_script(path: str, body: bytes, auth: str | None) -> str:
    """A wrk script POSTing `body` with every `ID_MARK` replaced by an id unique to the request.

    Unique ids matter: the collector drops event ids it has already seen, so replaying one body
    would measure its deduplication instead of enrichment and broker acknowledgement."""
    headers = '["Content-Type"] = "application/json"'
    if auth:
        headers += f', ["Authorization"] = "Basic {auth}"'
    parts = body.decode().split(ID_MARK)
    lua_parts = ", ".join("[==[" + part + "]==]" for part in parts)
    return f"""
local parts = {{{lua_parts}}}
local headers = {{{headers}}}
local n = 0
request = function()
  n = n + 1
  local buf = {{parts[1]}}
  for i = 2, #parts do
    buf[#buf + 1] = "{time.time_ns()}-" .. n .. "-" .. i
    buf[#buf + 1] = parts[i]
  end
  return wrk.format("POST", "{path}", headers, table.concat(buf))
end
"""


def run_wrk(port: int, script: str, seconds: int, connections: int, tmp: Path) -> dict:
    lua = tmp / f"s{time.time_ns()}.lua"
    lua.write_text(script)
    out = subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CPU,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        lat[pct] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


class Procs:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with log.open("ab") as f:
            p = subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, *cmd],
                stdout=f,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.procs.clear()


def bench_nginx(procs: Procs, tmp: Path, args, bodies) -> dict:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {tmp}/nb; proxy_temp_path {tmp}/np;
  fastcgi_temp_path {tmp}/nf; uwsgi_temp_path {tmp}/nu; scgi_temp_path {tmp}/ns;
  server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }} }}
""")
    procs.start(["nginx", "-c", str(conf), "-p", str(tmp)], tmp / "nginx.log")
    wait_port(port)
    try:
        return {
            name: run_wrk(port, wrk_script(path, body, None), args.seconds, args.connections, tmp)
            for name, (path, body) in bodies.items()
        }
    finally:
        procs.stop_all()


def bench_bare_granian(procs: Procs, tmp: Path, args, bodies) -> dict:
    """granian serving an empty ASGI app (bench/_bare_asgi.py): the Python server's ceiling."""
    port = free_port()
    granian = Path(sys.executable).with_name("granian")
    procs.start(
        [
            str(granian),
            "--interface",
            "asgi",
            "--loop",
            "uvloop",
            "--no-ws",
            "--log-level",
            "warning",
            "--port",
            str(port),
            "--working-dir",
            str(ROOT / "bench"),
            "_bare_asgi:app",
        ],
        tmp / "granian.log",
    )
    wait_port(port)
    try:
        return {
            name: run_wrk(port, wrk_script(path, body, None), args.seconds, args.connections, tmp)
            for name, (path, body) in bodies.items()
        }
    finally:
        procs.stop_all()


def bench_collector(procs: Procs, tmp: Path, args, bodies) -> dict:
    bport, cport = free_port(), free_port()
    py = sys.executable
    procs.start(
        [
            py,
            "-m",
            "headwater",
            "broker",
            "--listen",
            f"127.0.0.1:{bport}",
            "--data-dir",
            str(tmp / "broker"),
            "--log-level",
            "warning",
        ],
        tmp / "broker.log",
    )
    wait_port(bport)
    procs.start(
        [
            py,
            "-m",
            "headwater",
            "collect",
            "--listen",
            f"127.0.0.1:{cport}",
            "--broker",
            f"127.0.0.1:{bport}",
            "--write-key",
            "bench",
            "--log-level",
            "warning",
        ],
        tmp / "collector.log",
    )
    wait_port(cport)
    auth = base64.b64encode(b"bench:").decode()
    try:
        # warm-up: topic creation, connections, caches
        run_wrk(cport, wrk_script(*bodies["batch50"], auth), 2, 8, tmp)
        results = {
            name: run_wrk(cport, wrk_script(path, body, auth), args.seconds, args.connections, tmp)
            for name, (path, body) in bodies.items()
        }
        with urllib.request.urlopen(f"http://127.0.0.1:{cport}/healthz", timeout=10) as answer:
            stats = orjson.loads(answer.read())
        if stats["duplicates"] or stats["unavailable"]:
            print(f"warning: the collector counted {stats} (expected no duplicates, no 503s)")
        results["collector_stats"] = stats
        return results
    finally:
        procs.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk nginx-light util-linux")
    bodies = {
        "single": ("/collect", orjson.dumps(event(1))),
        "batch50": (
            "/v1/batch",
            orjson.dumps(
                {"batch": [event(i) for i in range(50)], "sentAt": "2026-11-25T10:00:01.000Z"}
            ),
        ),
    }
    procs = Procs()
    with tempfile.TemporaryDirectory(prefix="hw-bench-collector-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            (tmp / "nginx").mkdir()
            nginx = bench_nginx(procs, tmp / "nginx", args, bodies)
            (tmp / "bare").mkdir()
            bare = bench_bare_granian(procs, tmp / "bare", args, bodies)
            (tmp / "collector").mkdir()
            coll = bench_collector(procs, tmp / "collector", args, bodies)
        finally:
            procs.stop_all()
    table = Table(
        title=f"Collector vs nginx `return 204` (wrk -t1 -c{args.connections} "
        f"-d{args.seconds}s on core {LOAD_CPU}; servers on core {SERVER_CPU})"
    )
    for col in (
        "scenario",
        "collector req/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "nginx req/s",
        "bare granian req/s",
        "collector/nginx",
        "collector/bare",
        "target",
    ):
        table.add_column(col, justify="right" if col != "scenario" else "left")
    for name, per_req, target in (
        ("single", 1, ">= 0.6x nginx req/s"),
        ("batch50", 50, ">= 500,000 events/s"),
    ):
        c, n, b = coll[name], nginx[name], bare[name]
        table.add_row(
            name,
            f"{c['rps']:,.0f}",
            f"{c['rps'] * per_req:,.0f}",
            f"{c['p50_ms']:.2f}",
            f"{c['p99_ms']:.2f}",
            str(c["non2xx"]),
            f"{n['rps']:,.0f}",
            f"{b['rps']:,.0f}",
            f"{c['rps'] / n['rps']:.2f}x",
            f"{c['rps'] / b['rps']:.2f}x",
            target,
        )
    Console(width=200).print(table)
    if args.json:
        args.json.write_bytes(
            orjson.dumps(
                {"collector": coll, "nginx": nginx, "bare_granian": bare},
                option=orjson.OPT_INDENT_2,
            )
        )


if __name__ == "__main__":
    main()
