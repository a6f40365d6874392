"""Parse the `--broker` value every headwater command takes.

Accepted forms, and what they mean:

    embedded                      the headwater broker on this machine (127.0.0.1:9092 unless the
                                  caller passes another `embedded_bootstrap`)
    kafka://h1:9092,h2:9092       a Kafka cluster (or any Kafka-compatible broker)
    h1:9092,h2:9092               the same, without the scheme
    kinesis://us-east-1           Amazon Kinesis: recognised, refused until the backend exists

Anything else is a `TransportConfigError` saying which part is wrong. The embedded broker and a
Kafka cluster parse to the same `kind="kafka"`: one code path, only the bootstrap differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from headwater.transport.errors import TransportConfigError

DEFAULT_EMBEDDED_BOOTSTRAP = "127.0.0.1:9092"

_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.\-_]*[A-Za-z0-9])?)")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_FORMS = "expected 'embedded', 'kafka://host:port[,host:port…]', 'host:port' or 'kinesis://region'"


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A parsed `--broker` value: which backend, and where it is."""

    kind: Literal["kafka"]
    bootstrap: tuple[str, ...]  # ("host:port", …) in the order given
    embedded: bool = False  # True when the user asked for `embedded`

    @property
    def bootstrap_servers(self) -> str:
        """The comma-joined form Kafka clients take as `bootstrap.servers`."""
        return ",".join(self.bootstrap)

    def __str__(self) -> str:
        return "embedded" if self.embedded else f"kafka://{self.bootstrap_servers}"


def parse_broker_url(value: str, embedded_bootstrap: str = DEFAULT_EMBEDDED_BOOTSTRAP) -> BrokerUrl:
    """Parse a `--broker` value; raise `TransportConfigError` with the exact problem."""
    text = value.strip()
    if not text:
        raise TransportConfigError(f"empty broker address; {_FORMS}")
    if text == "embedded":
        return BrokerUrl("kafka", _parse_hosts(embedded_bootstrap, "embedded bootstrap"), True)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return BrokerUrl("kafka", _parse_hosts(text, "broker address"))
    scheme = scheme.lower()
    if scheme == "kafka":
        return BrokerUrl("kafka", _parse_hosts(rest, "kafka:// address"))
    if scheme == "kinesis":
        region = rest.strip("/")
        if not _REGION.fullmatch(region):
            raise TransportConfigError(
                f"kinesis://{rest!s}: expected an AWS region such as kinesis://us-east-1"
            )
        raise TransportConfigError(
            f"kinesis://{region}: the Kinesis transport is not available yet; "
            "use 'embedded' or a Kafka bootstrap address (kafka://host:port)"
        )
    raise TransportConfigError(f"{value!r}: unknown scheme {scheme + '://'!r}; {_FORMS}")


def _parse_hosts(text: str, what: str) -> tuple[str, ...]:
    """Split `h1:p1,h2:p2` and check each host and port; IPv6 hosts must be bracketed."""
    if not text.strip():
        raise TransportConfigError(f"{what} names no host; {_FORMS}")
    hosts = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise TransportConfigError(f"{what} {text!r} has an empty entry between commas")
        if "/" in item or "?" in item or "@" in item:
            raise TransportConfigError(
                f"{what} {text!r}: {item!r} must be host:port (no path, query or user)"
            )
        host, colon, port = item.rpartition(":")
        if not colon:
            raise TransportConfigError(f"{what} {text!r}: {item!r} has no port (host:port)")
        if ":" in host and not host.startswith("["):
            raise TransportConfigError(
                f"{what} {text!r}: IPv6 host {host!r} must be in brackets, e.g. [::1]:9092"
            )
        if not _HOST.fullmatch(host):
            raise TransportConfigError(f"{what} {text!r}: {host!r} is not a valid host name")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise TransportConfigError(f"{what} {text!r}: port {port!r} is not in 1..65535")
        hosts.append(f"{host}:{int(port)}")
    return tuple(hosts)
