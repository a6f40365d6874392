"""Broker settings as one typed value object, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from headwater.broker.log import LogConfig


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Everything `headwater broker` can be told; defaults are the embedded single-node setup."""

    host: str = "127.0.0.1"
    port: int = 9092
    data_dir: Path = Path(".headwater/broker")
    node_id: int = 1
    cluster_id: str = "headwater"
    #: Advertised as given: a client told 127.0.0.1 must not be sent to "localhost".
    advertised_host: str | None = None
    auto_create_topics: bool = True
    default_partitions: int = 1
    max_frame_bytes: int = 100 * 1024 * 1024
    log: LogConfig = field(default_factory=LogConfig)
    #: Kafka's group.initial.rebalance.delay.ms: wait this long for more members of a new group
    #: (Kafka waits 3 s; consumers started together arrive within tens of milliseconds).
    group_initial_rebalance_delay_ms: int = 100
    #: Where Prometheus scrapes; None disables the endpoint.
    metrics_host: str | None = None
    metrics_port: int = 0
    retention_check_interval_ms: int = 60_000
    #: Kafka's log.cleaner.backoff.ms: the compaction thread's pause between passes.
    log_cleaner_backoff_ms: int = 15_000

    @property
    def advertised(self) -> str:
        return self.advertised_host or self.host
