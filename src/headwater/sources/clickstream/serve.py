"""Run the collector under granian (Rust HTTP server, ASGI interface).

granian imports the application by name in its worker processes, so the configuration travels as
JSON in `HEADWATER_COLLECTOR_CONFIG`; `create_app` is the factory it calls.

Start-up is checked before granian is handed anything (`check_startup`): the broker address is
one we support, the listening address can be bound (as granian binds it, so collectors sharing a
port with SO_REUSEPORT still may), the broker answers, and the topics the collector writes (events
and dead letters) exist: created here, durably (`headwater.sources.topics`), not auto-created by the
first event. Any failure raises `CollectorStartupError` with the cause, the fix and an exit code;
nothing listens.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from typing import Any

import orjson

from headwater import transport
from headwater.sources.clickstream.app import Collector
from headwater.sources.clickstream.config import CollectorConfig
from headwater.sources.clickstream.enrich import EnrichConfig
from headwater.sources.clickstream.errors import (
    EX_IOERR,
    EX_UNAVAILABLE,
    EX_USAGE,
    CollectorStartupError,
)
from headwater.sources.topics import ensure_topics

CONFIG_ENV = "HEADWATER_COLLECTOR_CONFIG"


def _to_json(config: CollectorConfig) -> bytes:
    data: dict[str, Any] = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name not in ("limits", "enrich")
    }
    data["enrich"] = {
        k: v.decode("latin-1") if isinstance(v, bytes) else v
        for k, v in dataclasses.asdict(config.enrich).items()
    }
    return orjson.dumps(data)


def _from_json(raw: str) -> CollectorConfig:
    data = orjson.loads(raw)
    enrich = data.pop("enrich", None)
    for name in ("cors_origins",):
        if name in data:
            data[name] = tuple(data[name])
    if enrich is not None:
        enrich = {k: tuple(v) if isinstance(v, list) else v for k, v in enrich.items()}
        data["enrich"] = EnrichConfig(**enrich)
    return CollectorConfig(**data)


def create_app() -> Collector:
    """granian's factory: the collector configured from the environment."""
    raw = os.environ.get(CONFIG_ENV)
    return Collector(_from_json(raw) if raw else CollectorConfig())


def check_startup(
    config: CollectorConfig, host: str, port: int, broker_timeout_s: float = 5.0
) -> None:
    """Raise `CollectorStartupError` unless the collector can serve: broker address, listening
    address, broker reachable, topics there (in that order: the cheap checks first)."""
    _check_broker_address(config.broker)
    _check_bindable(host, port)
    try:
        with transport.connect(config.broker, client_id="headwater-collector") as conn:
            conn.check(broker_timeout_s)
    except transport.TransportError as exc:
        raise CollectorStartupError(
            f"the broker at {config.broker} did not answer within {broker_timeout_s:g}s: {exc}",
            hint="start it (`headwater broker`) or pass --broker HOST:PORT of a running broker",
            exit_code=EX_UNAVAILABLE,
        ) from None
    _create_topics(config)


def _create_topics(config: CollectorConfig) -> None:
    """Create the events and dead-letter topics if missing, durably (not left to auto-creation)."""
    try:
        with (
            transport.connect(config.broker, client_id="headwater-collector") as conn,
            conn.admin() as admin,
        ):
            ensure_topics(admin, [config.events_topic, config.invalid_topic])
    except transport.TransportError as exc:
        raise CollectorStartupError(
            f"the broker at {config.broker}: {exc}",
            hint="check that the broker is up and lets this client create topics "
            "(or create them beforehand)",
            exit_code=EX_UNAVAILABLE,
        ) from None


def _check_broker_address(broker: str) -> None:
    try:
        transport.parse_broker_url(broker)
    except transport.TransportConfigError as exc:
        unsupported = broker.strip().lower().startswith("kinesis://") and "not available" in str(
            exc
        )
        raise CollectorStartupError(
            f"--broker: {exc.message}",
            hint="pass --broker embedded, HOST:PORT or kafka://h1:9092,h2:9092",
            exit_code=EX_UNAVAILABLE if unsupported else EX_USAGE,
        ) from None


def _check_bindable(host: str, port: int) -> None:
    """Bind as granian will (SO_REUSEADDR and SO_REUSEPORT), then let go."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CollectorStartupError(
            f"--listen {host}:{port}: the host does not resolve ({exc.strerror})",
            hint="pass --listen HOST:PORT with a local address, e.g. 127.0.0.1:8080",
            exit_code=EX_USAGE,
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            in_use = exc.errno == errno.EADDRINUSE
            raise CollectorStartupError(
                f"--listen {host}:{port}: "
                + ("the port is in use by another program" if in_use else str(exc.strerror)),
                hint="stop the program on that port or pass --listen HOST:PORT with a free port"
                if in_use
                else "pass --listen HOST:PORT with an address of this machine and a port you "
                "may bind (ports below 1024 need privileges)",
                exit_code=EX_IOERR,
            ) from None


def serve(config: CollectorConfig, host: str, port: int, workers: int = 1) -> None:
    """Blocking: serve until SIGINT/SIGTERM (granian handles both, then runs ASGI shutdown).

    Raises `CollectorStartupError` before listening if the collector could not serve."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    check_startup(config, host, port)
    os.environ[CONFIG_ENV] = _to_json(config).decode()
    Granian(
        "headwater.sources.clickstream.serve:create_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
        backlog=2048,
    ).serve()
