"""`headwater demo` end to end, as a user runs it: every service really started, the simulated
service's traffic landed exactly once, the model trained, and nothing left running."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from headwater.ml.dataset import read_versions
from headwater.query.sql import query
from tests.kit.processes import run_headwater

pytestmark = pytest.mark.timeout(420)


def running_with(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (ours excluded)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    workdir = tmp_path_factory.mktemp("demo") / "run"
    result = run_headwater(
        "demo", "--users", "400", "--days", "21", "--workdir", str(workdir),
        timeout_s=400, env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, orjson.loads((workdir / "summary.json").read_bytes()), result.stdout


def sql(workdir: Path, statement: str) -> list[tuple]:
    table = query(workdir / "lake", statement)
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


def test_nothing_is_left_running(demo: tuple[Path, dict, str]) -> None:
    workdir, _, stdout = demo
    assert "nothing left running" in stdout
    assert running_with(str(workdir)) == []
    assert running_with("headwater-demo-") == []


def test_every_accepted_event_is_in_the_lake_once(demo: tuple[Path, dict, str]) -> None:
    workdir, summary, _ = demo
    assert summary["requests_refused"] == 0
    assert not any(summary["left_behind"].values())
    assert set(summary["events_by_channel"]) == {"web", "mobile", "desktop", "voice"}
    [(rows, ids)] = sql(
        workdir, "SELECT count(*), count(DISTINCT event_id) FROM clickstream_events"
    )
    assert rows == ids == summary["events_accepted"] > 1000
    by_channel = dict(sql(workdir, "SELECT channel, count(*) FROM clickstream_events GROUP BY 1"))
    assert by_channel == summary["events_by_channel"]
    [(dead,)] = sql(workdir, "SELECT count(*) FROM clickstream_events WHERE session_id IS NULL")
    assert dead == 0


def test_every_database_change_is_a_version_in_the_history(demo: tuple[Path, dict, str]) -> None:
    workdir, summary, _ = demo
    history = "cdc_streaming_subscriptions_history"
    columns = query(workdir / "lake", f"SELECT * FROM {history} LIMIT 0").column_names
    assert {"user_id", "plan", "status", "monthly_price", "started_at", "updated_at",
            "valid_from", "valid_to", "_op", "_position"} <= set(columns)  # fmt: skip
    [(versions, users)] = sql(workdir, f"SELECT count(*), count(DISTINCT user_id) FROM {history}")
    assert versions == summary["database_changes"]
    [(current,)] = sql(workdir, "SELECT count(*) FROM cdc_streaming_subscriptions")
    assert current == users
    # One open version per user, and each closed one ends where the next begins.
    [(open_versions, broken)] = sql(
        workdir,
        f"""SELECT count(*) FILTER (WHERE valid_to IS NULL),
                   count(*) FILTER (WHERE valid_to IS NOT NULL AND valid_to <> next_from)
            FROM (SELECT valid_to, lead(valid_from) OVER (PARTITION BY user_id
                         ORDER BY _position) AS next_from FROM {history})""",
    )
    assert (open_versions, broken) == (users, 0)
    [(cancelled,)] = sql(
        workdir, "SELECT count(*) FROM cdc_streaming_subscriptions WHERE status = 'cancelled'"
    )
    assert cancelled > 0


def test_the_camera_segments_landed_in_order(demo: tuple[Path, dict, str]) -> None:
    workdir, _, _ = demo
    sequences = [s for (s,) in sql(workdir, "SELECT sequence FROM video_segments ORDER BY 1")]
    assert len(sequences) >= 3
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))


def test_the_model_is_trained_on_a_pinned_point_in_time_set(demo: tuple[Path, dict, str]) -> None:
    workdir, summary, stdout = demo
    model = summary["model"]
    assert model["train_rows"] > 100 and model["test_rows"] > 50
    assert 0 < model["test_churn_rate"] < 0.5
    assert model["roc_auc"] > 0.6, model  # activity before cutting is the simulated signal
    versions = read_versions(workdir / "churn_training_set.parquet")
    assert versions == model["versions"]
    assert "held-out ROC AUC" in stdout
    assert "headwater sql --lake" in stdout
