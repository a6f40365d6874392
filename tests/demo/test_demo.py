"""`headwater demo` end to end, as a user runs it: every service really started, the simulated
service's traffic landed exactly once, the model trained, and nothing left running; with its own
embedded broker (one run shared by the module's tests) and on the Kafka cluster (`--broker
kafka://…`, one test making every check: the cluster fixture is per test)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

import headwater.transport as hwt
from headwater.contracts.topics import CLICKSTREAM_EVENTS
from headwater.ml.dataset import read_versions
from headwater.query.sql import query
from tests.kit.kafka import KafkaCluster
from tests.kit.processes import run_headwater
from tests.lake.events import click_value

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


#: A demo run: its workdir, its summary.json and what it printed.
Run = tuple[Path, dict, str]


def run_demo(workdir: Path, *args: str) -> Run:
    result = run_headwater(
        "demo", "--users", "400", "--days", "21", "--workdir", str(workdir), *args,
        timeout_s=400, env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, orjson.loads((workdir / "summary.json").read_bytes()), result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_demo(tmp_path_factory.mktemp("demo") / "run")


def sql(workdir: Path, statement: str) -> list[tuple]:
    table = query(workdir / "lake", statement)
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


def nothing_is_left_running(demo: Run) -> None:
    workdir, _, stdout = demo
    assert "nothing left running" in stdout
    assert running_with(str(workdir)) == []
    assert running_with("headwater-demo-") == []


def every_accepted_event_is_in_the_lake_once(demo: Run) -> None:
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


def every_database_change_is_a_version_in_the_history(demo: Run) -> None:
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


def the_camera_segments_landed_in_order(demo: Run) -> None:
    workdir, _, _ = demo
    sequences = [s for (s,) in sql(workdir, "SELECT sequence FROM video_segments ORDER BY 1")]
    assert len(sequences) >= 3
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))


def the_model_is_trained_on_a_pinned_point_in_time_set(demo: Run) -> None:
    workdir, summary, stdout = demo
    model = summary["model"]
    assert model["train_rows"] > 100 and model["test_rows"] > 50
    assert 0 < model["test_churn_rate"] < 0.5
    assert model["roc_auc"] > 0.6, model  # activity before cutting is the simulated signal
    versions = read_versions(workdir / "churn_training_set.parquet")
    assert versions == model["versions"]
    assert "held-out ROC AUC" in stdout
    assert "headwater sql --lake" in stdout


CHECKS = [
    nothing_is_left_running,
    every_accepted_event_is_in_the_lake_once,
    every_database_change_is_a_version_in_the_history,
    the_camera_segments_landed_in_order,
    the_model_is_trained_on_a_pinned_point_in_time_set,
]


def test_nothing_is_left_running(demo: Run) -> None:
    nothing_is_left_running(demo)


def test_every_accepted_event_is_in_the_lake_once(demo: Run) -> None:
    every_accepted_event_is_in_the_lake_once(demo)


def test_every_database_change_is_a_version_in_the_history(demo: Run) -> None:
    every_database_change_is_a_version_in_the_history(demo)


def test_the_camera_segments_landed_in_order(demo: Run) -> None:
    the_camera_segments_landed_in_order(demo)


def test_the_model_is_trained_on_a_pinned_point_in_time_set(demo: Run) -> None:
    the_model_is_trained_on_a_pinned_point_in_time_set(demo)


@pytest.mark.kafka
@pytest.mark.slow
def test_the_demo_on_a_kafka_cluster_passes_every_check(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    """On a cluster whose events topic already holds older events (written an hour "ago"): the
    demo's fresh lake takes only what the run wrote (the sink's --since), so every count holds."""
    with hwt.connect(kafka_cluster.url) as t:
        t.admin().create_topics([hwt.TopicSpec(CLICKSTREAM_EVENTS, 3)], exist_ok=True)
        with t.producer() as producer:
            an_hour_ago = int(time.time() * 1000) - 3_600_000
            for i in range(30):
                producer.produce(CLICKSTREAM_EVENTS, click_value(i), timestamp_ms=an_hour_ago)
            assert producer.flush(30) == 0
    run = run_demo(tmp_path / "run", "--broker", kafka_cluster.url)
    assert f"Kafka cluster {kafka_cluster.url}" in run[2]
    assert "broker (embedded" not in run[2]
    for check in CHECKS:
        check(run)
