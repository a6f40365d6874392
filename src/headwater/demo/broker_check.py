"""`headwater demo --broker-only`: the embedded broker end to end, with what it measured.

Starts a private broker (or uses the one given), streams records through it with the transport
every component uses, reads them back in a consumer group, checks every record arrived once and
in order per partition, and prints the rates.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from headwater import transport
from headwater.local.ports import free_port, wait_for_port


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )


def run_demo(
    records: int = 2_000_000, partitions: int = 6, record_bytes: int = 100, broker: str = "embedded"
) -> None:
    console = Console()
    if broker != "embedded":
        console.print(f"[bold]broker[/] {broker}")
        _stream(console, broker, records, partitions, record_bytes, None)
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="headwater-demo-") as tmp:
        data_dir = Path(tmp) / "broker"
        log = (Path(tmp) / "broker.log").open("wb")
        broker_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "headwater",
                "broker",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port("127.0.0.1", port, 20.0)
            console.print(
                f"[bold]embedded broker[/] listening on 127.0.0.1:{port} (data in {data_dir})"
            )
            _stream(console, f"127.0.0.1:{port}", records, partitions, record_bytes, data_dir)
        finally:
            broker_proc.terminate()
            broker_proc.wait(15)
            log.close()
    console.print("broker stopped; nothing left running.")


def _stream(
    console: Console,
    bootstrap: str,
    records: int,
    partitions: int,
    record_bytes: int,
    data_dir: Path | None,
) -> None:
    conn = transport.connect(bootstrap)
    topic = f"demo.events.{int(time.time())}"
    conn.admin().create_topics([transport.TopicSpec(topic, partitions=partitions)])
    payload = os.urandom(record_bytes // 2).hex().encode()[:record_bytes]

    with _progress(console) as progress:
        task = progress.add_task("produce (acks=all, idempotent)", total=records, rate="")
        producer = conn.producer()
        keys = [str(k).encode() for k in range(1000)]
        start = time.perf_counter()
        chunk = 50_000
        for base in range(0, records, chunk):
            for i in range(base, min(base + chunk, records)):
                producer.produce(topic, payload, key=keys[i % 1000])
            producer.poll(0)
            rate = (base + chunk) / (time.perf_counter() - start)
            progress.update(task, completed=min(base + chunk, records), rate=f"{rate:,.0f}/s")
        remaining = producer.flush(60)
        produce_s = time.perf_counter() - start
        failed = producer.failed
        delivered = records - remaining - failed
        producer.close()
        progress.update(task, completed=records, rate=f"{records / produce_s:,.0f}/s")

        task = progress.add_task("consume (group demo)", total=records, rate="")
        consumer = conn.consumer("demo")
        consumer.subscribe([topic])
        first_at: float | None = None  # from the first record: the group join is not consuming
        seen = 0
        last_offsets: dict[int, int] = {}
        in_order = True
        deadline = time.monotonic() + 120
        while seen < records and time.monotonic() < deadline:
            batch = consumer.consume(10_000, 1.0)
            if batch and first_at is None:
                first_at = time.perf_counter()
            for rec in batch:
                if last_offsets.get(rec.partition, -1) >= rec.offset:
                    in_order = False
                last_offsets[rec.partition] = rec.offset
            seen += len(batch)
            if batch:
                consumer.commit(batch)
            if first_at is not None:
                progress.update(
                    task, completed=seen, rate=f"{seen / (time.perf_counter() - first_at):,.0f}/s"
                )
        consume_s = time.perf_counter() - first_at if first_at is not None else float("inf")
        consumer.close()

    disk = sum(f.stat().st_size for f in data_dir.rglob("*.log")) if data_dir else 0
    table = Table(title="headwater demo: embedded broker")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("records produced (acks=all)", f"{delivered:,}")
    table.add_row("undelivered or failed", f"{remaining + failed:,}")
    table.add_row("produce rate", f"{records / produce_s:,.0f} records/s")
    table.add_row("records consumed", f"{seen:,}")
    table.add_row("consume rate", f"{seen / consume_s:,.0f} records/s")
    table.add_row("in order per partition", "yes" if in_order else "NO")
    if data_dir is not None:
        table.add_row("bytes on disk", f"{disk / 1e6:,.1f} MB")
    console.print(table)
    if delivered != records or seen != records or not in_order:
        raise SystemExit("demo failed: not every record went through once and in order")
