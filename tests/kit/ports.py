"""TCP ports for private services: a free one, waiting until one listens, a dead address.

`free_port` asks the kernel for a port nobody listens on right now; a service started on it
a moment later may (rarely) lose it to another process, and then fails to start with its log.
"""

from __future__ import annotations

from headwater.local.ports import free_port, wait_for_port

__all__ = ["dead_address", "free_port", "wait_for_port"]


def dead_address() -> str:
    """ "127.0.0.1:PORT" where nothing listens (connections are refused at once)."""
    return f"127.0.0.1:{free_port()}"
