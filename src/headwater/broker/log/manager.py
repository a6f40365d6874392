"""`LogManager`: every topic and partition under one data directory, and the topic metadata.

Layout::

    <data_dir>/topics.json           {"version": 1, "topics": [{"name", "topic_id", "partitions",
                                      "configs"}]}: the truth about which topics exist
    <data_dir>/<topic>-<partition>/  one PartitionLog each, as Kafka names them

topics.json is replaced atomically (temporary file, fsync, rename, fsync of the directory), after
new partition directories are created and before old ones are removed, so a crash never leaves a
topic without its directories: at worst a partition directory no topic claims. Such a stray
directory is reported and left alone, and removed only when a new topic of that name is created.
If topics.json is missing while partition directories exist, topics are adopted from the directory
names (with fresh topic ids and no config overrides) rather than losing their data.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from headwater.broker.log.config import LogConfig
from headwater.broker.log.errors import (
    InvalidPartitionsError,
    InvalidTopicError,
    LogError,
    LogStorageError,
    TopicExistsError,
    UnknownTopicOrPartitionError,
)
from headwater.broker.log.files import read_file, write_atomically
from headwater.broker.log.partition_log import PartitionLog
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.log")

TOPICS_FILE = "topics.json"
MAX_TOPIC_NAME_LENGTH = 249
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")


class _TopicEntry(TypedDict):
    """One topic in topics.json."""

    name: str
    topic_id: str
    partitions: int
    configs: dict[str, str]


@dataclass(slots=True)
class TopicInfo:
    """A topic's identity, partitions and config (overrides as sent, config as applied)."""

    name: str
    topic_id: uuid.UUID
    partitions: list[PartitionLog]
    overrides: dict[str, str] = field(default_factory=dict)
    config: LogConfig = field(default_factory=LogConfig)


def validate_topic_name(name: str) -> None:
    """Kafka's rules: [a-zA-Z0-9._-], 1 to 249 characters, not "." or ".."."""
    if not name:
        raise InvalidTopicError("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopicError(f"topic name cannot be {name!r}")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicError(
            f"topic name is {len(name)} characters; the limit is {MAX_TOPIC_NAME_LENGTH}"
        )
    if not _LEGAL_NAME.fullmatch(name):
        raise InvalidTopicError(
            f"topic name {name!r} has characters other than ASCII letters, digits, '.', '_', '-'"
        )


class LogManager:
    """Loads every partition on start; creates, grows and deletes topics."""

    def __init__(self, data_dir: Path, default_config: LogConfig | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.default_config = default_config or LogConfig()
        self.topics: dict[str, TopicInfo] = {}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._load()
        except BaseException:
            self._close_all()
            raise

    # -- metadata ----------------------------------------------------------------------------

    def _partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    def _load(self) -> None:
        raw = read_file(self.data_dir / TOPICS_FILE)
        entries: list[_TopicEntry]
        if raw is None:
            entries = self._adopt_directories()
        else:
            try:
                entries = json.loads(raw)["topics"]
            except (ValueError, KeyError, TypeError) as exc:
                raise LogError(f"{self.data_dir / TOPICS_FILE} is unreadable: {exc}") from exc
        for entry in entries:
            name, count, overrides = entry["name"], entry["partitions"], entry["configs"]
            config = self.default_config.with_overrides(overrides)
            topic = TopicInfo(name, uuid.UUID(entry["topic_id"]), [], dict(overrides), config)
            self.topics[name] = topic  # registered first, so a failure below closes its logs
            for i in range(count):
                topic.partitions.append(PartitionLog(self._partition_dir(name, i), config, name, i))
        claimed = {p.directory.name for t in self.topics.values() for p in t.partitions}
        for path in self.data_dir.iterdir():
            if path.is_dir() and path.name not in claimed and _split_dir_name(path.name):
                log_event(logger, "stray_partition_directory", logging.WARNING, path=str(path))

    def _adopt_directories(self) -> list[_TopicEntry]:
        counts: dict[str, int] = {}
        for path in self.data_dir.iterdir():
            parsed = _split_dir_name(path.name) if path.is_dir() else None
            if parsed is not None:
                name, partition = parsed
                counts[name] = max(counts.get(name, 0), partition + 1)
        entries: list[_TopicEntry] = [
            {"name": name, "topic_id": str(uuid.uuid4()), "partitions": count, "configs": {}}
            for name, count in sorted(counts.items())
        ]
        if entries:
            log_event(
                logger,
                "topics_adopted_from_directories",
                logging.WARNING,
                missing=str(self.data_dir / TOPICS_FILE),
                topics=sorted(counts),
            )
            self._persist_entries(entries)
        return entries

    def _persist(self, counts: Mapping[str, int], extra: TopicInfo | None = None) -> None:
        """Write topics.json: the known topics (plus `extra`) with partition counts `counts`."""
        topics = [*self.topics.values(), *([extra] if extra else [])]
        self._persist_entries(
            [
                {
                    "name": t.name,
                    "topic_id": str(t.topic_id),
                    "partitions": counts[t.name],
                    "configs": t.overrides,
                }
                for t in topics
                if t.name in counts
            ]
        )

    def _counts(self) -> dict[str, int]:
        return {name: len(topic.partitions) for name, topic in self.topics.items()}

    def _persist_entries(self, entries: list[_TopicEntry]) -> None:
        data = json.dumps({"version": 1, "topics": entries}, indent=1, sort_keys=True).encode()
        try:
            write_atomically(self.data_dir / TOPICS_FILE, data)
        except OSError as exc:
            raise LogStorageError(f"cannot write {self.data_dir / TOPICS_FILE}: {exc}") from exc

    # -- topics ------------------------------------------------------------------------------

    def _topic(self, name: str) -> TopicInfo:
        topic = self.topics.get(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"unknown topic {name!r}")
        return topic

    def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: Mapping[str, str] | None = None,
        *,
        validate_only: bool = False,
    ) -> TopicInfo:
        """Create a topic; with validate_only, check everything and create nothing (the
        returned TopicInfo then has no partitions)."""
        validate_topic_name(name)
        if name in self.topics:
            raise TopicExistsError(f"topic {name!r} already exists")
        flat = name.replace(".", "_")
        for other in self.topics:
            if other.replace(".", "_") == flat:
                raise InvalidTopicError(
                    f"topic {name!r} collides with {other!r} ('.' and '_' clash in metric names)"
                )
        if num_partitions < 1:
            raise InvalidPartitionsError(
                f"number of partitions must be at least 1, not {num_partitions}"
            )
        overrides = dict(configs or {})
        config = self.default_config.with_overrides(overrides)
        topic = TopicInfo(name, uuid.uuid4(), [], overrides, config)
        if validate_only:
            return topic
        for i in range(num_partitions):
            stray = self._partition_dir(name, i)
            if stray.exists():
                log_event(
                    logger, "stray_partition_directory_removed", logging.WARNING, path=str(stray)
                )
                try:
                    shutil.rmtree(stray)
                except OSError as exc:
                    raise LogStorageError(f"cannot remove {stray}: {exc}") from exc
        logs = self._open_new_partitions(topic, range(num_partitions))
        self._persist_or_drop({**self._counts(), name: num_partitions}, logs, extra=topic)
        topic.partitions.extend(logs)
        self.topics[name] = topic
        return topic

    def _open_new_partitions(self, topic: TopicInfo, numbers: range) -> list[PartitionLog]:
        """Create partition logs; all of them or, after removing the ones made, none."""
        logs: list[PartitionLog] = []
        try:
            for i in numbers:
                logs.append(
                    PartitionLog(self._partition_dir(topic.name, i), topic.config, topic.name, i)
                )
        except LogError:
            for log in logs:
                log.delete()
            raise
        return logs

    def _persist_or_drop(
        self, counts: Mapping[str, int], logs: list[PartitionLog], extra: TopicInfo | None = None
    ) -> None:
        """Persist the metadata that claims `logs`; if that fails the logs are removed again."""
        try:
            self._persist(counts, extra)
        except LogError:
            for log in logs:
                log.delete()
            raise

    def delete_topic(self, name: str) -> None:
        """Forget the topic, then remove its partition directories."""
        topic = self._topic(name)
        self._persist({k: v for k, v in self._counts().items() if k != name})
        del self.topics[name]
        for partition in topic.partitions:
            partition.delete()

    def create_partitions(self, name: str, new_total: int, *, validate_only: bool = False) -> None:
        """Grow a topic to `new_total` partitions (Kafka never shrinks one)."""
        topic = self._topic(name)
        current = len(topic.partitions)
        if new_total <= current:
            raise InvalidPartitionsError(
                f"topic {name!r} has {current} partitions; the new total {new_total} must be larger"
            )
        if validate_only:
            return
        logs = self._open_new_partitions(topic, range(current, new_total))
        self._persist_or_drop({**self._counts(), name: new_total}, logs)
        topic.partitions.extend(logs)

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        info = self.topics.get(topic)
        if info is None or not 0 <= partition < len(info.partitions):
            return None
        return info.partitions[partition]

    def describe_config(self, topic: str) -> list[tuple[str, str, bool]]:
        """(name, value, is_default) rows for DescribeConfigs."""
        return self.default_config.describe(self._topic(topic).overrides)

    # -- background work and shutdown --------------------------------------------------------

    def _partitions(self) -> list[PartitionLog]:
        return [p for topic in list(self.topics.values()) for p in list(topic.partitions)]

    def flush_all(self) -> None:
        """fsync everything written so far, in every partition."""
        for partition in self._partitions():
            partition.flush()

    def flush_due(self, now_ms: int) -> None:
        """Apply every topic's flush policy (call it every ~100 ms from a background task)."""
        for partition in self._partitions():
            partition.flush_due(now_ms)

    def apply_retention(self, now_ms: int) -> int:
        """Apply retention to every partition; returns the number of segments deleted."""
        return sum(partition.apply_retention(now_ms) for partition in self._partitions())

    def close(self) -> None:
        """Close every partition cleanly; the first failure is raised after all were tried."""
        failure = self._close_all()
        if failure is not None:
            raise failure

    def _close_all(self) -> LogError | None:
        failure: LogError | None = None
        for partition in self._partitions():
            try:
                partition.close()
            except LogError as exc:
                failure = failure or exc
        self.topics.clear()
        return failure


def _split_dir_name(name: str) -> tuple[str, int] | None:
    """`my.topic-3` -> ("my.topic", 3); None for names that are not partition directories."""
    topic, sep, number = name.rpartition("-")
    if not sep or not number.isdigit() or not _LEGAL_NAME.fullmatch(topic):
        return None
    return topic, int(number)
