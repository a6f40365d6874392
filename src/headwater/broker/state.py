"""The broker's state: logs, groups, producer ids, fetch waiters, metrics. No I/O of its own.

Data directory layout:
    <data_dir>/logs/            partition logs (`<topic>-<partition>/` segments) and topics.json
    <data_dir>/groups/          committed offsets and group metadata
    <data_dir>/producer-ids.json
    <data_dir>/.lock            held (flock) for the process's life: one broker per directory
"""

from __future__ import annotations

import logging
import time
from typing import Any

from headwater.broker.config import BrokerConfig
from headwater.broker.groups import GroupCoordinator
from headwater.broker.log import LogCleaner, LogManager, TopicInfo
from headwater.broker.log.errors import LogError
from headwater.broker.metrics import BrokerMetrics
from headwater.broker.notifier import AppendNotifier
from headwater.broker.producer_ids import ProducerIdAllocator
from headwater.dirlock import DirectoryLock
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker")


class BrokerState:
    """Everything request handlers read and change.

    The data directory's lock is taken before anything in it is read or recovered, so a second
    broker on the same directory raises `DirectoryInUseError` having touched nothing.
    """

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.lock = DirectoryLock(config.data_dir).acquire()
        try:
            self.logs = LogManager(config.data_dir / "logs", config.log)
            self.groups = GroupCoordinator(
                config.data_dir / "groups",
                initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
                fsync=config.log.flush_policy == "always",
            )
            self.producer_ids = ProducerIdAllocator(config.data_dir)
            self.cleaner = LogCleaner(self.logs, backoff_ms=config.log_cleaner_backoff_ms)
        except BaseException:
            self.lock.release()
            raise
        self.notifier = AppendNotifier()
        self.metrics = BrokerMetrics(self)

    async def start(self) -> None:
        await self.groups.start()
        self.cleaner.start()

    async def close(self) -> None:
        try:
            self.cleaner.stop()
            await self.groups.close()
            self.logs.flush_all()
            self.groups.flush()
            self.logs.close()
        finally:
            self.lock.release()

    def topic_or_autocreate(self, name: str, allow_auto_create: bool = True) -> TopicInfo | None:
        """The topic, created with the default partition count when allowed; None when unknown."""
        topic = self.logs.topics.get(name)
        if topic is None and allow_auto_create and self.config.auto_create_topics:
            try:
                topic = self.logs.create_topic(name, self.config.default_partitions, {})
            except LogError:
                return None
            self.log_event("topic_created", topic=name, partitions=len(topic.partitions), auto=True)
        return topic

    def log_event(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        log_event(logger, event, level, **fields)

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000
