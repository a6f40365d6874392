"""Typed options: contradictions are refused when the options are made, not at first use."""

from __future__ import annotations

import pytest

import headwater.transport as hwt


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"acks": 1}, "enable_idempotence=True requires acks='all'"),
        ({"acks": 2, "enable_idempotence": False}, "acks must be 'all', 1 or 0"),
        ({"compression": "brotli"}, "unknown compression 'brotli'"),
        ({"linger_ms": -1}, "linger_ms must be >= 0"),
        ({"message_timeout_ms": 0}, "message_timeout_ms must be > 0"),
        ({"queue_max_messages": 0}, "queue_max_messages must be > 0"),
    ],
)
def test_producer_options_reject_contradictions(kwargs: dict, message: str) -> None:
    with pytest.raises(hwt.TransportConfigError, match=message):
        hwt.ProducerOptions(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"auto_offset_reset": "smallest"}, "auto_offset_reset must be"),
        ({"session_timeout_ms": 0}, "session_timeout_ms must be > 0"),
        ({"fetch_max_wait_ms": -5}, "fetch_max_wait_ms must be >= 0"),
    ],
)
def test_consumer_options_reject_nonsense(kwargs: dict, message: str) -> None:
    with pytest.raises(hwt.TransportConfigError, match=message):
        hwt.ConsumerOptions(**kwargs)


def test_unknown_raw_setting_fails_when_the_client_is_made() -> None:
    transport = hwt.connect("127.0.0.1:1")
    with pytest.raises(hwt.TransportConfigError, match=r"no\.such\.setting"):
        transport.producer(hwt.ProducerOptions(extra={"no.such.setting": 1}))
    with pytest.raises(hwt.TransportConfigError, match=r"no\.such\.setting"):
        transport.consumer("g", hwt.ConsumerOptions(extra={"no.such.setting": 1}))


def test_consumer_needs_a_group() -> None:
    with pytest.raises(hwt.TransportConfigError, match="group_id"):
        hwt.connect("127.0.0.1:1").consumer("")
