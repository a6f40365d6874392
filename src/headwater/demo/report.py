"""What the demo prints at the end: ingestion per source, the lake's tables, the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deltalake import DeltaTable
from rich.console import Console
from rich.table import Table

from headwater.query.sql import lake_tables, query

if TYPE_CHECKING:
    from headwater.demo.churn import ChurnResult
    from headwater.demo.run import DemoRun


def table_sizes(lake: Path) -> list[tuple[str, int, int, int, int]]:
    """(name, version, rows, files, bytes) of every lake table, from the Delta log's stats."""
    out = []
    for name, path in lake_tables(lake).items():
        table = DeltaTable(str(path))
        adds = table.get_add_actions(flatten=True)
        rows = sum(v or 0 for v in adds.column("num_records").to_pylist())
        size = sum(adds.column("size_bytes").to_pylist())
        out.append((name, table.version(), rows, adds.num_rows, size))
    return out


def _scalar(lake: Path, sql: str) -> object:
    return query(lake, sql).column(0)[0].as_py()


def print_report(
    console: Console, run: DemoRun, lake: Path, churn: ChurnResult, total_s: float
) -> None:
    t = run.traffic
    sources = Table(title="ingested")
    for col in ("source", "what", "count", "rate"):
        sources.add_column(col, justify="left" if col in ("source", "what") else "right")
    rate = t.accepted / run.simulate_s if run.simulate_s else 0
    by_channel = ", ".join(f"{c} {n:,}" for c, n in t.by_channel.most_common())
    sources.add_row("clickstream", f"events accepted ({by_channel})", f"{t.accepted:,}",
                    f"{rate:,.0f} events/s")  # fmt: skip
    sources.add_row("", "HTTP requests (tracker /collect, Segment /v1/batch)", f"{t.requests:,}",
                    f"{t.requests / run.simulate_s:,.0f} req/s")  # fmt: skip
    refused = sum(t.refused.values())
    sources.add_row("", "requests refused", f"{refused:,}", "")
    cdc_rate = f"{run.changes / run.simulate_s:,.0f} changes/s"
    sources.add_row("cdc (MariaDB binlog)", "subscription changes in the database",
                    f"{run.changes:,}", cdc_rate)  # fmt: skip
    segments = (
        _scalar(lake, "SELECT count(*) FROM video_segments") if _has(lake, "video_segments") else 0
    )
    sources.add_row("video (HLS camera)", "segments stored and recorded", f"{segments:,}", "")
    console.print(sources)
    for reason, n in t.refused.most_common(3):
        console.print(f"[red]refused {n} times:[/] {reason}")

    tables = Table(title=f"lake: {lake}")
    for col in ("table", "version", "rows", "files", "size"):
        tables.add_column(col, justify="left" if col == "table" else "right")
    for name, version, rows, files, size in table_sizes(lake):
        tables.add_row(name, str(version), f"{rows:,}", f"{files:,}", f"{size / 1e6:,.1f} MB")
    console.print(tables)

    model = Table(title="churn model (HistGradientBoosting, point-in-time features)")
    model.add_column("measure")
    model.add_column("value", justify="right")
    model.add_row("training rows (earlier cutoffs)", f"{churn.train_rows:,}")
    model.add_row("held-out rows (last cutoff)", f"{churn.test_rows:,}")
    model.add_row("churn within 7 days: train / held out",
                  f"{churn.train_churn_rate:.1%} / {churn.test_churn_rate:.1%}")  # fmt: skip
    model.add_row("held-out ROC AUC", f"{churn.roc_auc:.3f}")
    model.add_row("held-out average precision", f"{churn.average_precision:.3f}")
    model.add_row("ROC AUC of the plan alone", f"{churn.baseline_auc:.3f}")
    model.add_row("most useful features", ", ".join(n for n, _ in churn.top_features))
    model.add_row("training set (pinned versions)", str(churn.parquet))
    console.print(model)
    console.print(f"demo finished in {total_s:.0f} s. Query the lake:")
    console.print(
        f"  .venv/bin/headwater sql --lake {lake} "
        '"SELECT channel, count(*) AS events FROM clickstream_events GROUP BY 1 ORDER BY 2 DESC"\n'
        f'  .venv/bin/headwater sql --lake {lake} "SELECT user_id, plan, status, valid_from, '
        "valid_to FROM cdc_streaming_subscriptions_history WHERE user_id = 'u00042' "
        'ORDER BY valid_from"',
        soft_wrap=True,
    )


def _has(lake: Path, name: str) -> bool:
    return name in lake_tables(lake)


def summary(run: DemoRun, lake: Path, churn: ChurnResult, total_s: float) -> dict[str, object]:
    """The figures of the run as JSON-able data (`<workdir>/summary.json`, read by the tests)."""
    t = run.traffic
    return {
        "seconds": round(total_s, 1),
        "simulate_seconds": round(run.simulate_s, 1),
        "land_seconds": round(run.land_s, 1),
        "events_accepted": t.accepted,
        "events_by_channel": dict(t.by_channel),
        "requests": t.requests,
        "requests_refused": sum(t.refused.values()),
        "database_changes": run.changes,
        "left_behind": run.left_behind,
        "tables": {
            name: {"version": v, "rows": r, "files": f, "bytes": b}
            for name, v, r, f, b in table_sizes(lake)
        },
        "model": {
            "train_rows": churn.train_rows,
            "test_rows": churn.test_rows,
            "train_churn_rate": churn.train_churn_rate,
            "test_churn_rate": churn.test_churn_rate,
            "roc_auc": churn.roc_auc,
            "average_precision": churn.average_precision,
            "plan_only_roc_auc": churn.baseline_auc,
            "versions": churn.versions,
        },
    }
