"""`connect` and `Transport`: configuration only until asked, closes what it made."""

from __future__ import annotations

import pytest

import headwater.transport as hwt


def test_transport_close_closes_every_client_it_made(dead_bootstrap: str) -> None:
    with hwt.connect(dead_bootstrap) as transport:
        producer = transport.producer()
        consumer = transport.consumer("g")
        transport.admin()
    with pytest.raises(hwt.TransportError, match="closed"):
        producer.produce("t", b"v")
    with pytest.raises(hwt.TransportError, match="closed"):
        consumer.consume(timeout_s=0.1)


def test_connect_passes_shared_settings_to_every_client(dead_bootstrap: str) -> None:
    with pytest.raises(hwt.TransportConfigError, match=r"not\.a\.setting"):
        hwt.connect(dead_bootstrap, config={"not.a.setting": "x"}).producer()


def test_embedded_uses_the_given_bootstrap(bootstrap: str) -> None:
    transport = hwt.connect("embedded", embedded_bootstrap=bootstrap)
    assert transport.url.embedded
    assert isinstance(transport.check(), dict)
    assert repr(transport) == "Transport(embedded)"
