"""Map the typed options onto librdkafka configuration dictionaries.

Precedence, lowest first: headwater's defaults from the options object, then the connection-wide
raw settings given to `connect(config=…)` (e.g. SASL/TLS for a cluster), then the client's own
`options.extra`. Bootstrap servers always come from the parsed `--broker` value, and so does a
consumer's `client.rack` (`?client.rack=ZONE`), set before the raw settings so they may override it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from headwater.transport.options import ConsumerOptions, ProducerOptions, RawConfig

#: librdkafka's own log lines go to this logger instead of stderr.
LIBRDKAFKA_LOGGER = logging.getLogger("headwater.transport.librdkafka")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What every client of one connection shares."""

    bootstrap_servers: str
    client_id: str = "headwater"
    config: RawConfig = field(default_factory=dict)
    client_rack: str | None = None  # the zone this process runs in: consumers fetch from it

    def base(self, client_id: str | None) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": client_id or self.client_id,
            "logger": LIBRDKAFKA_LOGGER,
        }


def producer_config(settings: ClientSettings, options: ProducerOptions) -> dict[str, Any]:
    conf = settings.base(options.client_id)
    conf.update(
        {
            "acks": str(options.acks),
            "enable.idempotence": options.enable_idempotence,
            "linger.ms": options.linger_ms,
            "compression.type": options.compression,
            "message.timeout.ms": options.message_timeout_ms,
            "queue.buffering.max.messages": options.queue_max_messages,
        }
    )
    conf.update(settings.config)
    conf.update(options.extra)
    return conf


def consumer_config(
    settings: ClientSettings, group_id: str, options: ConsumerOptions
) -> dict[str, Any]:
    conf = settings.base(options.client_id)
    conf.update(
        {
            "group.id": group_id,
            "enable.auto.commit": options.enable_auto_commit,
            "auto.offset.reset": options.auto_offset_reset,
            # consume() only returns what the caller processed; offsets are stored as returned.
            "enable.auto.offset.store": True,
            # End-of-partition events feed Consumer.at_end(); consume() never returns them.
            "enable.partition.eof": True,
        }
    )
    optional = {
        "session.timeout.ms": options.session_timeout_ms,
        "heartbeat.interval.ms": options.heartbeat_interval_ms,
        "max.poll.interval.ms": options.max_poll_interval_ms,
        "partition.assignment.strategy": options.assignment_strategy,
        "fetch.wait.max.ms": options.fetch_max_wait_ms,
    }
    if options.session_timeout_ms is not None and options.heartbeat_interval_ms is None:
        # librdkafka's 3 s heartbeat is too slow for a short session; Kafka's rule is a third.
        optional["heartbeat.interval.ms"] = max(1, min(3000, options.session_timeout_ms // 3))
    conf.update({k: v for k, v in optional.items() if v is not None})
    if settings.client_rack is not None:
        # KIP-392: the cluster may serve this consumer's fetches from a replica in its zone.
        conf["client.rack"] = settings.client_rack
    conf.update(settings.config)
    conf.update(options.extra)
    return conf


def admin_config(settings: ClientSettings) -> dict[str, Any]:
    conf = settings.base(None)
    conf.update(settings.config)
    return conf
