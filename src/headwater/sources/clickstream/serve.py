"""Run the collector under granian (Rust HTTP server, ASGI interface).

granian imports the application by name in its worker processes, so the configuration travels as
JSON in `HEADWATER_COLLECTOR_CONFIG`; `create_app` is the factory it calls.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import orjson

from headwater.sources.clickstream.app import Collector
from headwater.sources.clickstream.config import CollectorConfig
from headwater.sources.clickstream.enrich import EnrichConfig

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


def serve(config: CollectorConfig, host: str, port: int, workers: int = 1) -> None:
    """Blocking: serve until SIGINT/SIGTERM (granian handles both, then runs ASGI shutdown)."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

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
