"""Typed options mapped onto librdkafka settings: safe defaults, documented precedence."""

from __future__ import annotations

import headwater.transport as hwt
from headwater.transport.kafka.config import ClientSettings, consumer_config, producer_config

SETTINGS = ClientSettings("h1:9092", "svc", {"socket.timeout.ms": 1000, "linger.ms": 7})


def test_producer_defaults_are_the_delivery_guarantees() -> None:
    conf = producer_config(ClientSettings("h1:9092"), hwt.ProducerOptions())
    assert conf["bootstrap.servers"] == "h1:9092"
    assert conf["acks"] == "all"
    assert conf["enable.idempotence"] is True
    assert conf["linger.ms"] == 5
    assert conf["compression.type"] == "none"


def test_connection_config_overrides_defaults_and_extra_overrides_both() -> None:
    conf = producer_config(SETTINGS, hwt.ProducerOptions(extra={"linger.ms": 9}))
    assert conf["socket.timeout.ms"] == 1000
    assert conf["linger.ms"] == 9
    assert conf["client.id"] == "svc"
    assert producer_config(SETTINGS, hwt.ProducerOptions(client_id="me"))["client.id"] == "me"


def test_consumer_defaults_commit_only_when_told() -> None:
    conf = consumer_config(ClientSettings("h1:9092"), "sink", hwt.ConsumerOptions())
    assert conf["group.id"] == "sink"
    assert conf["enable.auto.commit"] is False
    assert conf["auto.offset.reset"] == "earliest"
    assert "session.timeout.ms" not in conf


def test_short_session_gets_a_heartbeat_a_third_as_long() -> None:
    options = hwt.ConsumerOptions(session_timeout_ms=6000)
    conf = consumer_config(ClientSettings("h1:9092"), "g", options)
    assert (conf["session.timeout.ms"], conf["heartbeat.interval.ms"]) == (6000, 2000)


def test_acks_one_is_allowed_without_idempotence() -> None:
    conf = producer_config(SETTINGS, hwt.ProducerOptions(acks=1, enable_idempotence=False))
    assert (conf["acks"], conf["enable.idempotence"]) == ("1", False)
