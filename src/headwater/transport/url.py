"""Parse the `--broker` value every headwater command takes.

Accepted forms, and what they mean:

    embedded                      the headwater broker on this machine (127.0.0.1:9092 unless the
                                  caller passes another `embedded_bootstrap`)
    kafka://h1:9092,h2:9092       a Kafka cluster (or any Kafka-compatible broker)
    h1:9092,h2:9092               the same, without the scheme
    kinesis://us-east-1           Amazon Kinesis: recognised, refused until the backend exists

A Kafka form may end in `?client.rack=ZONE` (Kafka's own setting name): the availability zone
this process runs in. Consumers pass it to the cluster, which then serves their fetches from a
replica in the same zone where it sets `replica.selector.class` to Kafka's
RackAwareReplicaSelector (KIP-392): no cross-zone traffic for reads. It travels inside `--broker`
so that every command takes it without an option of its own.

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
#: Query parameters a Kafka form may carry (`kafka://h:9092?client.rack=az1`).
QUERY_PARAMETERS = ("client.rack",)
_RACK = re.compile(r"[^\s,?&=]{1,255}")


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A parsed `--broker` value: which backend, and where it is."""

    kind: Literal["kafka"]
    bootstrap: tuple[str, ...]  # ("host:port", …) in the order given
    embedded: bool = False  # True when the user asked for `embedded`
    client_rack: str | None = None  # the zone consumers fetch from (`?client.rack=`)

    @property
    def bootstrap_servers(self) -> str:
        """The comma-joined form Kafka clients take as `bootstrap.servers`."""
        return ",".join(self.bootstrap)

    def __str__(self) -> str:
        text = "embedded" if self.embedded else f"kafka://{self.bootstrap_servers}"
        return text if self.client_rack is None else f"{text}?client.rack={self.client_rack}"


def parse_broker_url(value: str, embedded_bootstrap: str = DEFAULT_EMBEDDED_BOOTSTRAP) -> BrokerUrl:
    """Parse a `--broker` value; raise `TransportConfigError` with the exact problem."""
    text = value.strip()
    if not text:
        raise TransportConfigError(f"empty broker address; {_FORMS}")
    text, query_sep, query = text.partition("?")
    rack = _parse_query(value, query) if query_sep else None
    if text == "embedded":
        hosts = _parse_hosts(embedded_bootstrap, "embedded bootstrap")
        return BrokerUrl("kafka", hosts, True, rack)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return BrokerUrl("kafka", _parse_hosts(text, "broker address"), client_rack=rack)
    scheme = scheme.lower()
    if scheme == "kafka":
        return BrokerUrl("kafka", _parse_hosts(rest, "kafka:// address"), client_rack=rack)
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


def _parse_query(value: str, query: str) -> str | None:
    """The `client.rack` of `?client.rack=ZONE`; any other or repeated parameter is refused."""
    known = ", ".join(f"{name}=…" for name in QUERY_PARAMETERS)
    seen: dict[str, str] = {}
    for pair in query.split("&"):
        name, _, val = pair.partition("=")
        if name not in QUERY_PARAMETERS:
            raise TransportConfigError(
                f"{value!r}: unknown parameter {name!r} after '?'; accepted: {known}"
            )
        if name in seen:
            raise TransportConfigError(f"{value!r}: {name} is given twice")
        if not _RACK.fullmatch(val):
            raise TransportConfigError(
                f"{value!r}: {name} must name a zone (1-255 characters, no spaces, ',', '&' or "
                f"'='), e.g. ?{name}=us-east-1a"
            )
        seen[name] = val
    return seen.get("client.rack")


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
