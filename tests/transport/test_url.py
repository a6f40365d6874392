"""`--broker` parsing: every accepted form, and a precise TransportConfigError for the rest."""

from __future__ import annotations

import pytest

import headwater.transport as hwt
from headwater.transport import BrokerUrl, TransportConfigError, parse_broker_url


def test_embedded_points_at_the_local_default_port() -> None:
    url = parse_broker_url("embedded")
    assert url == BrokerUrl("kafka", ("127.0.0.1:9092",), embedded=True)
    assert url.bootstrap_servers == "127.0.0.1:9092"
    assert str(url) == "embedded"


def test_embedded_bootstrap_is_overridable() -> None:
    url = parse_broker_url("embedded", embedded_bootstrap="127.0.0.1:19092")
    assert url.bootstrap == ("127.0.0.1:19092",)
    assert url.embedded


def test_kafka_scheme_with_several_hosts_keeps_their_order() -> None:
    url = parse_broker_url("kafka://h2.example:9093,h1:9092")
    assert url == BrokerUrl("kafka", ("h2.example:9093", "h1:9092"))
    assert url.bootstrap_servers == "h2.example:9093,h1:9092"
    assert str(url) == "kafka://h2.example:9093,h1:9092"


def test_bare_host_port_list_is_kafka() -> None:
    assert parse_broker_url("h1:9092, h2:9092") == BrokerUrl("kafka", ("h1:9092", "h2:9092"))


@pytest.mark.parametrize(
    ("value", "bootstrap"),
    [
        ("  kafka://b-1.msk.internal:9094  ", ("b-1.msk.internal:9094",)),
        ("KAFKA://localhost:9092", ("localhost:9092",)),
        ("[::1]:9092", ("[::1]:9092",)),
        ("kafka://[fe80::1]:9092,10.0.0.7:9092", ("[fe80::1]:9092", "10.0.0.7:9092")),
        ("broker_1:09092", ("broker_1:9092",)),
    ],
)
def test_accepted_forms(value: str, bootstrap: tuple[str, ...]) -> None:
    assert parse_broker_url(value).bootstrap == bootstrap


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty broker address"),
        ("   ", "empty broker address"),
        ("kafka://", "names no host"),
        ("kafka://h1", "'h1' has no port"),
        ("h1", "'h1' has no port"),
        ("h1:", "port '' is not in 1..65535"),
        ("h1:0", "port '0' is not in 1..65535"),
        ("h1:65536", "port '65536' is not in 1..65535"),
        ("h1:http", "port 'http' is not in 1..65535"),
        ("kafka://h1:9092,,h2:9092", "empty entry between commas"),
        ("kafka://h1:9092,", "empty entry between commas"),
        ("kafka://h1:9092/topic", "must be host:port (no path, query or user)"),
        ("kafka://user@h1:9092", "must be host:port (no path, query or user)"),
        ("::1:9092", "must be in brackets"),
        ("bad host:9092", "'bad host' is not a valid host name"),
        ("-h:9092", "'-h' is not a valid host name"),
        ("h1\n:9092", "'h1\\n' is not a valid host name"),
        (":9092", "'' is not a valid host name"),
        ("http://h1:9092", "unknown scheme 'http://'"),
        ("embedded://x", "unknown scheme 'embedded://'"),
        ("kinesis://", "expected an AWS region"),
        ("kinesis://not a region", "expected an AWS region"),
    ],
)
def test_rejected_forms_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(TransportConfigError) as caught:
        parse_broker_url(value)
    assert message in str(caught.value)
    assert caught.value.retriable is False


def test_bad_embedded_bootstrap_is_reported_as_such() -> None:
    with pytest.raises(TransportConfigError, match="embedded bootstrap"):
        parse_broker_url("embedded", embedded_bootstrap="localhost")


@pytest.mark.parametrize("value", ["kinesis://us-east-1", "kinesis://eu-west-2/"])
def test_kinesis_is_recognised_but_not_available_yet(value: str) -> None:
    with pytest.raises(TransportConfigError, match="Kinesis transport is not available yet"):
        parse_broker_url(value)
    with pytest.raises(TransportConfigError, match="Kinesis transport is not available yet"):
        hwt.connect(value)


def test_config_errors_are_value_errors_too() -> None:
    """Callers validating CLI input with `except ValueError` catch them."""
    with pytest.raises(ValueError):
        hwt.connect("nope")


def test_connect_does_not_touch_the_network() -> None:
    """A Transport is configuration only: making one for an unreachable cluster succeeds."""
    transport = hwt.connect("kafka://h1.invalid:9092", client_id="x")
    assert transport.url.bootstrap == ("h1.invalid:9092",)
