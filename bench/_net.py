"""Loopback helpers shared by the benchmarks: `headwater.local.ports`, with the port alone."""

from __future__ import annotations

from headwater.local.ports import free_port, wait_for_port

__all__ = ["free_port", "wait_port"]


def wait_port(port: int, deadline_s: float = 30) -> None:
    """Until something listens on 127.0.0.1:`port` (TimeoutError after `deadline_s`)."""
    wait_for_port("127.0.0.1", port, deadline_s)
