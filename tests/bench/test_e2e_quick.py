"""`bench/e2e.py --quick` runs end to end: every accepted event lands exactly once, and the JSON
has the freshness and acknowledgement percentiles. No time is asserted (shared machines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_e2e_quick(tmp_path: Path) -> None:
    out = tmp_path / "e2e.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench/e2e.py"), "--quick", "--rate", "1000", "--json",
         str(out)],
        capture_output=True, text=True, timeout=170, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["events_sent"] == r["events_accepted"] == r["events_landed"] == 5_000
    assert r["events_missing"] == 0 and r["duplicates"] == 0 and r["landed_all"]
    assert r["duckdb_rows"] == r["duckdb_distinct"] == 5_000
    for figures in (r["freshness"], r["ack_latency"]):
        assert figures["n"] > 0
        assert {"p50_s", "p90_s", "p99_s", "max_s"} <= figures.keys()
    assert r["freshness"]["p50_s"] <= r["freshness"]["p99_s"] <= r["freshness"]["max_s"]
