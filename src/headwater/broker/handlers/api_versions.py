"""ApiVersions: the table clients negotiate against."""

from __future__ import annotations

import struct
from typing import Any

from headwater.broker.protocol.codec import Request
from headwater.broker.protocol.versions import SUPPORTED_VERSIONS
from headwater.broker.state import BrokerState

UNSUPPORTED_VERSION = 35


def _api_keys() -> list[dict[str, int]]:
    return [
        {"api_key": int(k), "min_version": lo, "max_version": hi}
        for k, (lo, hi) in sorted(SUPPORTED_VERSIONS.items())
    ]


def handle_api_versions(state: BrokerState, request: Request) -> dict[str, Any]:
    return {
        "error_code": 0,
        "api_keys": _api_keys(),
        "throttle_time_ms": 0,
        "supported_features": [],
        "finalized_features_epoch": -1,
        "finalized_features": [],
        "zk_migration_ready": False,
    }


def unsupported_version_payload() -> bytes:
    """ApiVersions error 35 in the v0 layout, which every client can read (KIP-511)."""
    keys = _api_keys()
    out = bytearray(struct.pack(">hi", UNSUPPORTED_VERSION, len(keys)))
    for k in keys:
        out += struct.pack(">hhh", k["api_key"], k["min_version"], k["max_version"])
    return bytes(out)
