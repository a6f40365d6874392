"""When an event happened, on the collector's clock.

Client clocks are often wrong by minutes or days, but the time between two readings of the same
clock is right: the event happened (sent - client) before the client sent it, and it was sent
when the collector received it (network time is neglected). So

    ts = received - (sent - client)

when the client gave both readings, and `received` otherwise. Nothing is clamped here: the parser
already refuses events too far in the future, and an event queued offline for days is genuinely
that old.
"""

from __future__ import annotations


def corrected_ts(received_ts: int, client_ts: int | None, sent_ts: int | None) -> int:
    """Event time in ms since the epoch, corrected for the client's clock skew."""
    if client_ts is None or sent_ts is None:
        return received_ts
    return received_ts - (sent_ts - client_ts)
