"""`headwater cdc` as a subprocess, and reading what it produced back from the broker."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from headwater import transport
from tests.kit.consuming import consume_until
from tests.kit.processes import ManagedProcess, headwater_process, run_headwater

#: A `headwater cdc` subprocess: `wait_for_log`, `log_text`, `stop` (SIGTERM), `kill` (-9).
CdcProcess = ManagedProcess


def start_cdc(tmp: Path, url: str, broker: str, *args: str, ready: str | None) -> CdcProcess:
    """Start `headwater cdc URL --broker B ARGS`; wait for `ready` in its log when given."""
    cdc = headwater_process(tmp, "cdc", url, "--broker", broker, *args, name="cdc")
    cdc.stop_timeout_s = 30
    cdc.start()
    if ready is not None:
        cdc.wait_for_log(ready)  # an AssertionError with the log if it exits or never logs it
    return cdc


def run_cdc(
    url: str, broker: str, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess:
    """Run `headwater cdc` to completion (for start-up failures)."""
    return run_headwater("cdc", url, "--broker", broker, *args, timeout_s=timeout_s)


@dataclass
class Change:
    key: Any
    value: Any  # the envelope; None for a tombstone
    offset: int


def read_changes(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Change]], bool],
    deadline_s: float = 30.0,
) -> list[Change]:
    """Every record of `topic` (one partition) from the start, until `until(records)` holds."""
    conn = transport.connect(bootstrap)
    try:
        with conn.consumer(f"test-{uuid.uuid4().hex}") as consumer:
            consumer.assign([transport.TopicPartition(topic, 0, transport.EARLIEST)])
            return consume_until(
                lambda _: [change_of(r) for r in consumer.consume(5000, 0.2)],
                until,
                deadline_s,
                f"the changes wanted in {topic}",
                lambda got: f"got {len(got)} records, the last: {[c.value for c in got[-5:]]}",
            )
    finally:
        conn.close()


def change_of(record: transport.Record) -> Change:
    return Change(
        orjson.loads(record.key) if record.key else None,
        orjson.loads(record.value) if record.value is not None else None,
        record.offset,
    )


def count_at_least(n: int) -> Callable[[list[Change]], bool]:
    return lambda changes: len(changes) >= n


def stored_position(bootstrap: str, source: str) -> dict[str, Any] | None:
    from headwater.sources import positions

    conn = transport.connect(bootstrap)
    try:
        return positions.load_cdc(conn, source)
    finally:
        conn.close()
