"""`connect(broker)` and the `Transport` it returns: the factory for producers, consumers, admins.

A `Transport` holds only configuration until a client is asked for, so creating one never blocks
or fails on a dead broker; `check()` is the explicit "is anybody there" probe a command runs at
start-up to fail fast. Closing the transport closes every client it made that is still open.
"""

from __future__ import annotations

import weakref
from typing import TypeVar

from headwater.transport.base import Admin, Consumer, Producer
from headwater.transport.closing import ClosesOnExit
from headwater.transport.kafka import ClientSettings, KafkaAdmin, KafkaConsumer, KafkaProducer
from headwater.transport.kafka.config import producer_config
from headwater.transport.options import ConsumerOptions, ProducerOptions, RawConfig
from headwater.transport.url import DEFAULT_EMBEDDED_BOOTSTRAP, BrokerUrl, parse_broker_url

C = TypeVar("C", Producer, Consumer, Admin)


class Transport(ClosesOnExit):
    """One broker (or cluster) and the settings every client of it shares."""

    def __init__(
        self, url: BrokerUrl, *, client_id: str = "headwater", config: RawConfig | None = None
    ) -> None:
        self.url = url
        self._settings = ClientSettings(
            url.bootstrap_servers, client_id, dict(config or {}), url.client_rack
        )
        self._clients: weakref.WeakSet[Producer | Consumer | Admin] = weakref.WeakSet()

    def producer(self, options: ProducerOptions | None = None) -> Producer:
        """A producer with headwater's safe defaults (acks=all, idempotent) unless overridden."""
        return self._track(KafkaProducer(self._settings, options))

    def producer_settings(self, options: ProducerOptions | None = None) -> dict[str, object]:
        """The client settings a producer made by `producer(options)` starts with (librdkafka's
        names): what `headwater doctor` checks, read from the code that builds the producer."""
        conf = producer_config(self._settings, options or ProducerOptions())
        return {key: value for key, value in conf.items() if key != "logger"}

    def consumer(self, group_id: str, options: ConsumerOptions | None = None) -> Consumer:
        """A consumer in `group_id` that commits only when told to."""
        return self._track(KafkaConsumer(self._settings, group_id, options))

    def admin(self) -> Admin:
        return self._track(KafkaAdmin(self._settings))

    def check(self, timeout_s: float = 5.0) -> dict[str, int]:
        """Ask the broker for its topics; raises `BrokerUnavailableError` if nobody answers."""
        with KafkaAdmin(self._settings) as admin:
            return admin.list_topics(timeout_s)

    def close(self) -> None:
        for client in list(self._clients):
            client.close()

    def __repr__(self) -> str:
        return f"Transport({self.url})"

    def _track(self, client: C) -> C:
        self._clients.add(client)
        return client


def connect(
    broker: str,
    *,
    client_id: str = "headwater",
    config: RawConfig | None = None,
    embedded_bootstrap: str = DEFAULT_EMBEDDED_BOOTSTRAP,
) -> Transport:
    """A `Transport` for a `--broker` value (`embedded`, `kafka://h:p,…`, `h:p`, `kinesis://…`).

    `config` holds raw client settings shared by every client (e.g. SASL/TLS for a cluster);
    `embedded_bootstrap` is where `embedded` points. Raises `TransportConfigError` for a bad
    value, and for Kinesis, which is not available yet.
    """
    return Transport(
        parse_broker_url(broker, embedded_bootstrap), client_id=client_id, config=config
    )
