"""LogConfig: Kafka topic config names, validation, DescribeConfigs rows."""

from __future__ import annotations

import pytest

from headwater.broker.log import InvalidConfigError, LogConfig


def test_kafka_names_override_the_defaults() -> None:
    config = LogConfig().with_overrides(
        {
            "retention.ms": "-1",
            "retention.bytes": "1048576",
            "segment.bytes": "1024",
            "segment.ms": "60000",
            "max.message.bytes": "100",
            "cleanup.policy": "compact,delete",
            "flush.ms": "250",
            "index.interval.bytes": "0",
        }
    )
    assert config == LogConfig(
        retention_ms=-1,
        retention_bytes=1048576,
        segment_bytes=1024,
        segment_ms=60000,
        max_message_bytes=100,
        cleanup_policy="compact,delete",
        flush_interval_ms=250,
        index_interval_bytes=0,
    )


def test_flush_messages_one_means_sync_every_append() -> None:
    assert LogConfig().with_overrides({"flush.messages": "1"}).flush_policy == "always"
    assert LogConfig().with_overrides({"flush.messages": "1000"}).flush_policy == "interval"


def test_known_but_unimplemented_kafka_configs_are_stored_not_refused() -> None:
    overrides = {"compression.type": "zstd", "min.insync.replicas": "2"}
    assert LogConfig().with_overrides(overrides) == LogConfig()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retention.msx": "1"}, "unknown topic config 'retention.msx'"),
        ({"retention.ms": "soon"}, "retention.ms='soon' is not an integer"),
        ({"retention.ms": "-2"}, r"retention.ms=-2 is outside \[-1, "),
        ({"segment.bytes": "10"}, r"segment.bytes=10 is outside \[14, 2147483647\]"),
        ({"segment.bytes": str(2**31)}, "segment.bytes=2147483648 is outside"),
        ({"cleanup.policy": "forever"}, "cleanup.policy='forever': expected delete, compact"),
    ],
)
def test_bad_names_and_values_are_invalid_config(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message) as info:
        LogConfig().with_overrides(overrides)
    assert info.value.error_code == 40


def test_describe_lists_effective_values_and_which_are_defaults() -> None:
    rows = {
        name: (value, is_default)
        for name, value, is_default in LogConfig().describe(
            {"retention.ms": "1000", "compression.type": "lz4"}
        )
    }
    assert rows["retention.ms"] == ("1000", False)
    assert rows["segment.bytes"] == (str(1 << 30), True)
    assert rows["cleanup.policy"] == ("delete", True)
    assert rows["compression.type"] == ("lz4", False)
    assert rows["flush.messages"] == (str(2**63 - 1), True)
