"""Request handlers: decoded request in, response as plain data out (see protocol.build).

A handler returns a dict (built into the version's kio response), `RawResponse` (bytes already
encoded, for layouts kio lacks), or None (no response: Produce with acks=0). Async handlers are
the ones that may wait: Fetch (long poll) and the group joins.
"""

from headwater.broker.handlers.dispatch import HANDLERS, RawResponse

__all__ = ["HANDLERS", "RawResponse"]
