"""Training sets from the lake: sessions, point-in-time joins, pinned versions, loaders.

from headwater import ml

spec = ml.DatasetSpec(history=(ml.HistoryFeatures("cdc_shop_users_history", "user_id",
                                                  ("plan", "country")),))
train = ml.build(lake, entities, spec)      # entities: key, ts, label (Arrow or pandas)
train.to_parquet("train.parquet")           # with the Delta versions it was built from
again = ml.build(lake, entities, spec, pin=train.versions)   # identical rows
"""

from headwater.ml.dataset import DatasetSpec, TrainingSet, build, read_versions
from headwater.ml.features import ClickstreamFeatures, HistoryFeatures
from headwater.ml.loaders import ExampleBatch, example_batches, iter_examples, torch_dataset
from headwater.ml.sessions import sessions
from headwater.ml.snapshot import LakeSnapshot

__all__ = [
    "ClickstreamFeatures",
    "DatasetSpec",
    "ExampleBatch",
    "HistoryFeatures",
    "LakeSnapshot",
    "TrainingSet",
    "build",
    "example_batches",
    "iter_examples",
    "read_versions",
    "sessions",
    "torch_dataset",
]
