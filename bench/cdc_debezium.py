"""Debezium 3.x embedded (pydbzengine) on bench/cdc.py's PostgreSQL workload, in its own process.

    .venv/bin/python bench/cdc_debezium.py --dsn DSN --rows N --slot SLOT --publication PUB \
        --out RESULT.json [--lag-rate R --lag-seconds S]

Run by bench/cdc.py, which creates the pgoutput slot and the publication (tables `t` and `lag`)
*before* inserting the throughput rows, so Debezium streams exactly the rows headwater streams
(snapshot.mode=no_data, offsets in memory: it starts at the slot's confirmed flush LSN).

  throughput  changes/s = N / (time the Python handler got the last batch of `t` - the first);
              the handler only counts (pydbzengine itself calls markProcessed per record)
  lag         single-row transactions into `lag` at a fixed rate, written by this process once
              the N changes arrived; lag = time the handler got the change - the time in the row.

Debezium only hands changes to a Python handler here (no broker, no acknowledgements), so the
ratio headwater / Debezium flatters Debezium. Writes one JSON object to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--slot", required=True)
    p.add_argument("--publication", required=True)
    p.add_argument("--lag-rate", type=int, default=0)
    p.add_argument("--lag-seconds", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, required=True, help="where the JSON result goes")
    args = p.parse_args(argv)

    import orjson
    import psycopg2
    from pydbzengine import BasePythonChangeHandler, DebeziumJsonEngine

    url = urlsplit(args.dsn)
    lag_total = int(args.lag_rate * args.lag_seconds)
    rows_done, lag_done = threading.Event(), threading.Event()
    state = {"first": 0.0, "last": 0.0, "rows": 0, "first_batch": 0}
    lags: list[float] = []

    class Handler(BasePythonChangeHandler):
        def handleJsonBatch(self, records: list) -> None:
            # Every JPype call costs microseconds: the throughput phase (only `t` changes in the
            # slot) just counts; values are read only in the lag phase, which starts after it.
            now = time.time()
            if not rows_done.is_set():
                if state["rows"] == 0:
                    state["first"], state["first_batch"] = now, len(records)
                state["rows"] += len(records)
                state["last"] = now
                if state["rows"] >= args.rows:
                    rows_done.set()
                return
            for record in records:
                value = orjson.loads(str(record.value()))
                lags.append(time.time() - value["after"]["sent"])
            if len(lags) >= lag_total:
                lag_done.set()

    with tempfile.TemporaryDirectory(prefix="hw-bench-dbz-") as work:
        props = {
            "name": "bench",
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "offset.storage": "org.apache.kafka.connect.storage.MemoryOffsetBackingStore",
            "offset.flush.interval.ms": "1000",
            "schema.history.internal": "io.debezium.relational.history.MemorySchemaHistory",
            "database.hostname": url.hostname,
            "database.port": str(url.port),
            "database.user": url.username,
            "database.password": url.password,
            "database.dbname": url.path.lstrip("/"),
            "topic.prefix": "dbz",
            "plugin.name": "pgoutput",
            "slot.name": args.slot,
            "publication.name": args.publication,
            "publication.autocreate.mode": "disabled",
            "snapshot.mode": "no_data",
            "table.include.list": "public.t,public.lag",
            "decimal.handling.mode": "string",
            "time.precision.mode": "connect",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "converter.schemas.enable": "false",
            # Debezium's defaults are 2048/8192: larger batches are its own throughput setting.
            "max.batch.size": "8192",
            "max.queue.size": "32768",
            "poll.interval.ms": "50",
        }
        engine = DebeziumJsonEngine(properties=props, handler=Handler())
        failure: list[BaseException] = []

        def run() -> None:
            try:
                engine.run()
            except BaseException as exc:  # reported on the main thread
                failure.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + args.timeout
        while not rows_done.wait(0.5):
            if failure or not thread.is_alive() or time.monotonic() > deadline:
                break
        result: dict = {"rows": state["rows"], "work_dir": Path(work).name}
        if state["rows"] >= args.rows and state["last"] > state["first"]:
            # the first batch arrived at `first`: the span covers the batches after it
            result["rate"] = (state["rows"] - state["first_batch"]) / (
                state["last"] - state["first"]
            )
        if rows_done.is_set() and lag_total:
            conn = psycopg2.connect(args.dsn)
            conn.autocommit = True
            cur = conn.cursor()
            start = time.monotonic()
            for i in range(lag_total):
                delay = start + i / args.lag_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                cur.execute("INSERT INTO lag VALUES (%s, %s)", (1_000_000 + i, time.time()))
            lag_done.wait(30)
            conn.close()
            ordered = sorted(lags)
            if ordered:
                result["lag"] = {
                    "received": len(ordered),
                    "sent": lag_total,
                    "p50_ms": 1000 * ordered[len(ordered) // 2],
                    "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                }
        if failure:
            result["error"] = f"{type(failure[0]).__name__}: {failure[0]}"
        elif "rate" not in result:
            result["error"] = f"{state['rows']} of {args.rows} changes after {args.timeout:.0f} s"
        # Written before stopping the engine: the JVM's shutdown may end the process.
        args.out.write_text(json.dumps(result))
        engine.close()
    sys.stdout.flush()
    os._exit(0)  # no JVM shutdown hooks to wait for


if __name__ == "__main__":
    main()
