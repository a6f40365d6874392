"""The demo's ML end: a churn training set with point-in-time features, and a model on it.

Entities: every subscriber who is active at a weekly cutoff; label: they cancel within the next 7
days (read from the CDC history table: a version with status `cancelled` dated in that week).
Features as they were at the cutoff, never later: the plan and price from the subscriptions'
history (an ASOF join), and activity over the 7 days before it and their session as of then
(`headwater.ml`). Earlier cutoffs train, the last one tests: the model is judged on a week it has
not seen, as it would be used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from headwater.ml import ClickstreamFeatures, DatasetSpec, HistoryFeatures, build
from headwater.ml.dataset import TrainingSet
from headwater.ml.features import ident
from headwater.ml.snapshot import LakeSnapshot

HORIZON = dt.timedelta(days=7)
NUMERIC = ("events_7d", "pages_7d", "videos_7d", "sessions_7d", "session_events",
           "session_duration_s", "session_videos", "session_idle_s", "monthly_price")  # fmt: skip
PLAN_RANK = {"basic": 0, "standard": 1, "premium": 2}


@dataclass(frozen=True)
class ChurnResult:
    train_rows: int
    test_rows: int
    train_churn_rate: float
    test_churn_rate: float
    roc_auc: float
    average_precision: float
    baseline_auc: float  # the plan alone (what the OLTP table knows without history)
    versions: dict[str, int]
    top_features: list[tuple[str, float]]
    parquet: Path


def training_set(lake: Path, history: str, cutoffs: list[dt.datetime]) -> tuple[pa.Table, dict]:
    """Entities (user, cutoff) with label and point-in-time features, and the versions read."""
    snapshot = LakeSnapshot.open(lake, [history])  # labels and features: the same version
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        snapshot.register(con)
        con.execute(f"CREATE TEMP VIEW h AS SELECT * FROM {ident(history)}")
        users = con.sql("SELECT DISTINCT user_id FROM h ORDER BY 1").to_arrow_table()
        con.register("users", users)
        con.register("cutoffs", pa.table({"ts": pa.array(cutoffs, pa.timestamp("us", "UTC"))}))
        entities = con.sql(
            f"""
            SELECT u.user_id, c.ts,
                   EXISTS (SELECT 1 FROM h WHERE h.user_id = u.user_id
                           AND h.status = 'cancelled' AND h._op = 'u'
                           AND h.valid_from > c.ts
                           AND h.valid_from <= c.ts + INTERVAL {HORIZON.days} DAY) AS churned
            FROM users u CROSS JOIN cutoffs c ORDER BY c.ts, u.user_id
            """
        ).to_arrow_table()
    finally:
        con.close()
    spec = DatasetSpec(
        history=(
            HistoryFeatures(history, "user_id", ("plan", "status", "monthly_price"), prefix=""),
        ),
        clickstream=ClickstreamFeatures(window=HORIZON),
    )
    built = build(lake, entities, spec, key="user_id", ts="ts", pin=snapshot.versions)
    return built.table, built.versions


def train(lake: Path, history: str, cutoffs: list[dt.datetime], out: Path) -> ChurnResult:
    """Build the set, keep subscribers active at their cutoff, train on all cutoffs but the
    last, test on the last."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import average_precision_score, roc_auc_score

    table, versions = training_set(lake, history, cutoffs)
    frame = table.to_pandas()
    frame = frame[frame["status"] == "active"].copy()
    frame["monthly_price"] = frame["monthly_price"].astype(float)
    frame["plan_rank"] = frame["plan"].map(PLAN_RANK).astype(float)
    names = [*NUMERIC, "plan_rank"]
    x = frame[names].astype(float).to_numpy()
    y = frame["churned"].astype(int).to_numpy()
    test = (frame["ts"] == frame["ts"].max()).to_numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    TrainingSet(pa.Table.from_pandas(frame, preserve_index=False), versions).to_parquet(out)

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=0)
    model.fit(x[~test], y[~test])
    scores = model.predict_proba(x[test])[:, 1]
    plan_only = frame["plan_rank"].to_numpy()[test]
    importance = permutation_importance(
        model, x[test], y[test], scoring="roc_auc", n_repeats=3, random_state=0
    )
    ranked = sorted(zip(names, importance.importances_mean, strict=True), key=lambda t: -t[1])
    return ChurnResult(
        train_rows=int((~test).sum()),
        test_rows=int(test.sum()),
        train_churn_rate=float(y[~test].mean()),
        test_churn_rate=float(y[test].mean()),
        roc_auc=float(roc_auc_score(y[test], scores)),
        average_precision=float(average_precision_score(y[test], scores)),
        baseline_auc=float(roc_auc_score(y[test], -plan_only)),
        versions=versions,
        top_features=[(n, float(v)) for n, v in ranked[:4]],
        parquet=out,
    )
