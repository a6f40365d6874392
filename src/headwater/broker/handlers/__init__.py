"""Request handlers: decoded request in, response as plain data out (see protocol.build).

A handler takes `(BrokerState, Request)` and returns a dict (built into the version's kio
response), `RawResponse` (bytes already encoded, for layouts kio lacks), `ProduceAppends` (the
appends the server runs off the event loop, then the answer), or None (no response). Handlers do
no file I/O of their own on the produce path. Async handlers are the ones that may wait: Fetch
(long poll) and the group joins. Request bodies are typed by the Protocols in `bodies`.
"""

from headwater.broker.handlers.dispatch import HANDLERS, RawResponse

__all__ = ["HANDLERS", "RawResponse"]
