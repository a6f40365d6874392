"""LogManager: topic metadata, name rules, partitions, persistence across restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.broker.log import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidTopicError,
    LogConfig,
    LogManager,
    TopicExistsError,
    UnknownTopicOrPartitionError,
)

from .batches import make_batch, rebase, values


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_topics_partitions_and_data_survive_a_restart(data_dir: Path) -> None:
    manager = LogManager(data_dir, LogConfig())
    info = manager.create_topic("clickstream.events", 3, {"retention.ms": "60000"})
    batch = make_batch(values(2))
    log = manager.get("clickstream.events", 2)
    assert log is not None
    log.append(batch, now_ms=0)
    manager.close()

    again = LogManager(data_dir, LogConfig())
    reopened = again.topics["clickstream.events"]
    assert reopened.topic_id == info.topic_id
    assert reopened.overrides == {"retention.ms": "60000"}
    assert reopened.config.retention_ms == 60000
    assert [p.directory.name for p in reopened.partitions] == [
        "clickstream.events-0",
        "clickstream.events-1",
        "clickstream.events-2",
    ]
    log = again.get("clickstream.events", 2)
    assert log is not None and log.read(0, 1000) == rebase(batch, 0)
    assert again.get("clickstream.events", 3) is None
    assert again.get("nope", 0) is None
    again.close()


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a" * 250, "has space", "slash/name", "ünïcode", "semi;colon"]
)
def test_names_kafka_refuses_are_invalid(data_dir: Path, name: str) -> None:
    manager = LogManager(data_dir)
    with pytest.raises(InvalidTopicError) as info:
        manager.create_topic(name, 1)
    assert info.value.error_code == 17
    manager.close()


def test_legal_names_up_to_249_characters_are_accepted(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    for name in ("a" * 249, "A-z_0.9", "cdc.pg.shop.orders", "..."):
        manager.create_topic(name, 1)
    manager.close()


def test_names_colliding_on_dot_and_underscore_are_invalid(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("a.b", 1)
    with pytest.raises(InvalidTopicError, match=r"collides with 'a\.b'"):
        manager.create_topic("a_b", 1)
    manager.close()


def test_create_errors(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("t", 1)
    with pytest.raises(TopicExistsError):
        manager.create_topic("t", 1)
    with pytest.raises(InvalidPartitionsError):
        manager.create_topic("u", 0)
    with pytest.raises(InvalidConfigError, match="unknown topic config 'colour'"):
        manager.create_topic("u", 1, {"colour": "blue"})
    assert set(manager.topics) == {"t"}
    assert not (data_dir / "u-0").exists()
    manager.close()


def test_validate_only_creates_nothing(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    info = manager.create_topic("t", 4, {"segment.bytes": "1000"}, validate_only=True)
    assert info.partitions == [] and info.config.segment_bytes == 1000
    assert manager.topics == {}
    assert not (data_dir / "t-0").exists()
    with pytest.raises(InvalidConfigError):
        manager.create_topic("t", 4, {"segment.bytes": "1"}, validate_only=True)
    manager.close()


def test_create_partitions_grows_and_persists(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("t", 2)
    with pytest.raises(InvalidPartitionsError, match="has 2 partitions"):
        manager.create_partitions("t", 2)
    manager.create_partitions("t", 2 + 3, validate_only=True)
    assert len(manager.topics["t"].partitions) == 2
    manager.create_partitions("t", 5)
    assert manager.get("t", 4) is not None
    with pytest.raises(UnknownTopicOrPartitionError):
        manager.create_partitions("nope", 5)
    manager.close()
    again = LogManager(data_dir)
    assert len(again.topics["t"].partitions) == 5
    again.close()


def test_delete_topic_removes_metadata_and_directories(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("t", 2)
    manager.create_topic("keep", 1)
    manager.get("t", 0).append(make_batch(values(1)), now_ms=0)  # type: ignore[union-attr]
    manager.delete_topic("t")
    assert not (data_dir / "t-0").exists() and not (data_dir / "t-1").exists()
    with pytest.raises(UnknownTopicOrPartitionError):
        manager.delete_topic("t")
    manager.close()
    again = LogManager(data_dir)
    assert set(again.topics) == {"keep"}
    info = again.create_topic("t", 1)  # the name is free again, with no old data
    assert info.partitions[0].log_end_offset == 0
    again.close()


def test_metadata_is_replaced_atomically(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("t", 1)
    manager.close()
    assert [p.name for p in data_dir.iterdir() if p.is_file()] == ["topics.json"]
    document = json.loads((data_dir / "topics.json").read_text())
    assert document["version"] == 1
    assert [t["name"] for t in document["topics"]] == ["t"]


def test_stray_directory_is_left_alone_then_replaced_by_a_new_topic(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("t", 1)
    manager.get("t", 0).append(make_batch(values(1)), now_ms=0)  # type: ignore[union-attr]
    manager.close()
    topics = json.loads((data_dir / "topics.json").read_text())
    topics["topics"] = []  # as if a delete crashed after the metadata write
    (data_dir / "topics.json").write_text(json.dumps(topics))
    again = LogManager(data_dir)
    assert again.topics == {} and (data_dir / "t-0").exists()
    assert again.create_topic("t", 1).partitions[0].log_end_offset == 0
    again.close()


def test_missing_metadata_adopts_partition_directories(data_dir: Path) -> None:
    manager = LogManager(data_dir)
    manager.create_topic("my-topic", 2)
    manager.get("my-topic", 1).append(make_batch(values(3)), now_ms=0)  # type: ignore[union-attr]
    manager.close()
    (data_dir / "topics.json").unlink()
    again = LogManager(data_dir)
    assert len(again.topics["my-topic"].partitions) == 2
    assert again.get("my-topic", 1).log_end_offset == 3  # type: ignore[union-attr]
    again.close()


def test_describe_config_reports_overrides(data_dir: Path) -> None:
    manager = LogManager(data_dir, LogConfig(retention_ms=5))
    manager.create_topic("t", 1, {"segment.bytes": "4096"})
    rows = {name: (value, default) for name, value, default in manager.describe_config("t")}
    assert rows["segment.bytes"] == ("4096", False)
    assert rows["retention.ms"] == ("5", True)
    with pytest.raises(UnknownTopicOrPartitionError):
        manager.describe_config("nope")
    manager.close()


def test_retention_and_flush_run_over_every_partition(data_dir: Path) -> None:
    manager = LogManager(data_dir, LogConfig(retention_ms=1000))
    manager.create_topic("a", 2)
    manager.create_topic("b", 1, {"retention.ms": "-1"})
    for topic, partition in (("a", 0), ("a", 1), ("b", 0)):
        log = manager.get(topic, partition)
        assert log is not None
        log.append(make_batch(values(1), timestamp=10), now_ms=10)
    manager.flush_all()
    assert not any(p.dirty for t in manager.topics.values() for p in t.partitions)
    assert manager.apply_retention(now_ms=5000) == 2  # b keeps its data forever
    assert manager.get("a", 0).log_start_offset == 1  # type: ignore[union-attr]
    assert manager.get("b", 0).log_start_offset == 0  # type: ignore[union-attr]
    manager.close()
