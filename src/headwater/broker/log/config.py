"""`LogConfig`: per-topic storage settings, and their mapping from Kafka topic config names.

A topic's effective config is the broker default `LogConfig` with the topic's overrides applied
(`with_overrides`). Overrides are kept as the strings the client sent, so DescribeConfigs can echo
them. Names Kafka knows but this broker does not act on (compression.type, min.insync.replicas, …)
are accepted and stored so that tools creating topics with them keep working; unknown names are
refused with InvalidConfigError, as Kafka does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from headwater.broker.log.errors import InvalidConfigError

FlushPolicy = Literal["always", "interval", "never"]

_DAY_MS = 24 * 60 * 60 * 1000
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Storage settings of one topic's partitions."""

    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * _DAY_MS
    retention_ms: int = 7 * _DAY_MS  # -1: keep forever
    retention_bytes: int = -1  # per partition; -1: no size limit
    index_interval_bytes: int = 4096
    max_message_bytes: int = 1_048_588  # largest batch accepted: Kafka's default (1 MiB + 12)
    flush_policy: FlushPolicy = "interval"
    flush_interval_ms: int = 1000
    cleanup_policy: str = "delete"  # "delete", "compact" or "compact,delete"
    # compaction (cleanup.policy contains "compact"; see headwater.broker.log.cleaner)
    delete_retention_ms: int = _DAY_MS  # tombstones stay this long in the cleaned log
    min_cleanable_dirty_ratio: float = 0.5  # clean when dirty bytes / cleanable bytes reach it
    min_compaction_lag_ms: int = 0  # a record stays uncompacted at least this long

    @property
    def compacted(self) -> bool:
        return "compact" in self.cleanup_policy.split(",")

    @property
    def deletes(self) -> bool:
        """Does time/size retention apply? (Not for `compact` alone.)"""
        return "delete" in self.cleanup_policy.split(",")

    def with_overrides(self, overrides: Mapping[str, str]) -> LogConfig:
        """This config with Kafka topic configs applied; InvalidConfigError names a bad one."""
        changes: dict[str, Any] = {}
        for name, raw in overrides.items():
            if name in _STORED_ONLY:
                continue
            spec = _SETTINGS.get(name)
            if spec is None:
                raise InvalidConfigError(f"unknown topic config {name!r}")
            if raw is None:
                raise InvalidConfigError(f"topic config {name!r} needs a value")
            field_name, parse = spec
            value = parse(name, str(raw).strip())
            if name == "flush.messages":
                if value == 1:
                    changes["flush_policy"] = "always"
                continue
            changes[field_name] = value
        return dataclasses.replace(self, **changes) if changes else self

    def describe(self, overrides: Mapping[str, str]) -> list[tuple[str, str, bool]]:
        """(Kafka name, value, is_default) for DescribeConfigs, effective values first."""
        config = self.with_overrides(overrides)
        rows = [
            (name, _render(getattr(config, field_name)), name not in overrides)
            for name, (field_name, _) in _SETTINGS.items()
            if name != "flush.messages"
        ]
        default_messages = "1" if config.flush_policy == "always" else str(_INT64_MAX)
        messages = overrides.get("flush.messages", default_messages)
        rows.append(("flush.messages", messages, "flush.messages" not in overrides))
        rows.extend(
            (name, value, False) for name, value in overrides.items() if name in _STORED_ONLY
        )
        rows.extend(
            (name, value, True)
            for name, value in STORED_ONLY_DEFAULTS.items()
            if name not in overrides
        )
        return rows


def _render(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidConfigError(f"{name}={raw!r} is not an integer") from None
        if not low <= value <= high:
            raise InvalidConfigError(f"{name}={value} is outside [{low}, {high}]")
        return value

    return parse


def _ratio(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidConfigError(f"{name}={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidConfigError(f"{name}={value} is outside [0, 1]")
    return value


def _cleanup_policy(name: str, raw: str) -> str:
    parts = [part.strip() for part in raw.split(",")]
    if not parts or any(part not in ("delete", "compact") for part in parts):
        raise InvalidConfigError(f"{name}={raw!r}: expected delete, compact or both")
    return ",".join(dict.fromkeys(parts))


_SETTINGS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "cleanup.policy": ("cleanup_policy", _cleanup_policy),
    "retention.ms": ("retention_ms", _integer(-1, _INT64_MAX)),
    "retention.bytes": ("retention_bytes", _integer(-1, _INT64_MAX)),
    "segment.bytes": ("segment_bytes", _integer(14, _INT32_MAX)),
    "segment.ms": ("segment_ms", _integer(1, _INT64_MAX)),
    "max.message.bytes": ("max_message_bytes", _integer(0, _INT32_MAX)),
    "index.interval.bytes": ("index_interval_bytes", _integer(0, _INT32_MAX)),
    "flush.ms": ("flush_interval_ms", _integer(0, _INT64_MAX)),
    "flush.messages": ("flush_policy", _integer(1, _INT64_MAX)),  # only 1 ("always") acts
    "delete.retention.ms": ("delete_retention_ms", _integer(0, _INT64_MAX)),
    "min.cleanable.dirty.ratio": ("min_cleanable_dirty_ratio", _ratio),
    "min.compaction.lag.ms": ("min_compaction_lag_ms", _integer(0, _INT64_MAX)),
}

# What this broker does where Kafka has a setting it does not act on, reported by DescribeConfigs
# as Kafka reports its defaults (tools that check durability read them): one node is the whole
# in-sync set, it never elects an unclean leader, and it stores batches and their timestamps as
# the producer sent them.
STORED_ONLY_DEFAULTS = {
    "min.insync.replicas": "1",
    "unclean.leader.election.enable": "false",
    "compression.type": "producer",
    "message.timestamp.type": "CreateTime",
}

# Kafka topic configs accepted and echoed back, without effect on this single-node broker.
_STORED_ONLY = frozenset(
    {
        "compression.type",
        "file.delete.delay.ms",
        "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "message.downconversion.enable",
        "message.format.version",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "min.insync.replicas",
        "preallocate",
        "remote.storage.enable",
        "segment.index.bytes",
        "segment.jitter.ms",
        "unclean.leader.election.enable",
    }
)


def describe_config(config: LogConfig, overrides: Mapping[str, str]) -> list[tuple[str, str, bool]]:
    """(name, value, is_default) rows for DescribeConfigs: `config` is the broker default."""
    return config.describe(overrides)
