"""An ASGI app that reads the body and answers 200 with a fixed JSON: the HTTP server's ceiling.

bench/collector.py serves it with granian exactly as the collector is served, so the gap between
this row and nginx is the server's, and the gap between this row and the collector is ours.
"""

from __future__ import annotations

from typing import Any

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json")],
}
_BODY = {"type": "http.response.body", "body": b'{"success":true}'}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    message = await receive()
    while message.get("more_body"):
        message = await receive()
    await send(_START)
    await send(_BODY)
