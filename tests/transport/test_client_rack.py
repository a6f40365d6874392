"""`?client.rack=ZONE` on `--broker`: parsed with the address, handed to consumers only."""

from __future__ import annotations

import pytest

import headwater.transport as hwt
from headwater.transport import TransportConfigError, parse_broker_url
from headwater.transport.kafka.config import ClientSettings, consumer_config, producer_config


@pytest.mark.parametrize(
    ("value", "bootstrap", "embedded"),
    [
        ("kafka://h1:9092,h2:9092?client.rack=us-east-1a", ("h1:9092", "h2:9092"), False),
        ("h1:9092?client.rack=us-east-1a", ("h1:9092",), False),
        ("embedded?client.rack=us-east-1a", ("127.0.0.1:9092",), True),
    ],
)
def test_client_rack_rides_on_every_kafka_form(
    value: str, bootstrap: tuple[str, ...], embedded: bool
) -> None:
    url = parse_broker_url(value)
    assert (url.bootstrap, url.embedded, url.client_rack) == (bootstrap, embedded, "us-east-1a")
    assert str(url).endswith("?client.rack=us-east-1a")
    assert parse_broker_url(str(url)) == url


def test_without_a_query_there_is_no_rack() -> None:
    assert parse_broker_url("kafka://h1:9092").client_rack is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("kafka://h1:9092?rack=az1", "unknown parameter 'rack' after '?'; accepted: client.rack"),
        ("kafka://h1:9092?client.rack", "client.rack must name a zone"),
        ("kafka://h1:9092?client.rack=", "client.rack must name a zone"),
        ("kafka://h1:9092?client.rack=a z", "client.rack must name a zone"),
        ("kafka://h1:9092?client.rack=a&client.rack=b", "client.rack is given twice"),
        ("kafka://h1:9092?", "unknown parameter ''"),
    ],
)
def test_bad_query_says_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(TransportConfigError) as caught:
        parse_broker_url(value)
    assert message in str(caught.value)


def test_consumers_get_client_rack_and_producers_do_not() -> None:
    settings = ClientSettings("h1:9092", client_rack="az2")
    assert consumer_config(settings, "g", hwt.ConsumerOptions())["client.rack"] == "az2"
    assert "client.rack" not in producer_config(settings, hwt.ProducerOptions())
    no_rack = consumer_config(ClientSettings("h1:9092"), "g", hwt.ConsumerOptions())
    assert "client.rack" not in no_rack


def test_raw_connection_settings_may_override_the_rack() -> None:
    settings = ClientSettings("h1:9092", config={"client.rack": "az3"}, client_rack="az2")
    assert consumer_config(settings, "g", hwt.ConsumerOptions())["client.rack"] == "az3"


def test_transport_passes_the_rack_of_its_url() -> None:
    transport = hwt.connect("kafka://h1.invalid:9092?client.rack=az1")
    assert transport.url.client_rack == "az1"
    assert transport._settings.client_rack == "az1"


def test_producer_settings_are_those_a_producer_is_made_with() -> None:
    settings = hwt.connect("kafka://h1.invalid:9092").producer_settings()
    assert (settings["acks"], settings["enable.idempotence"]) == ("all", True)
    assert "logger" not in settings
