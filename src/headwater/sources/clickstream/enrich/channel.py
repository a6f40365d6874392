"""Which channel an event came through: web, mobile, desktop or voice.

First answer wins:
1. the client declared it (Segment `context.channel`, already checked by the parser);
2. voice, when the context names a voice platform (`context.device.type` or
   `context.library.name` naming an assistant, or a truthy `context.voice`) or the user agent
   is a voice assistant's (an Alexa skill's audio player runs on Android: voice still wins);
3. the context's device type from a Segment SDK: "ios"/"android" → mobile, "macos",
   "windows", "linux" → desktop;
4. what the user agent implies (`user_agent.parse_user_agent`);
5. web — what the tracker, the pixel and server-side forwarding mostly carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from headwater.sources.clickstream.model import Channel

_VOICE: Final = re.compile(r"voice|speaker|alexa|assistant|siri|cortana|bixby|jovo", re.I)
#: Platform names Segment's native SDKs put in `context.device.type`. A form factor ("mobile",
#: "tablet") is not among them: a browser on a phone is still the web channel.
# fmt: off
_DEVICE_TYPES: Final[dict[str, Channel]] = {
    "ios": "mobile", "android": "mobile", "ipados": "mobile",
    "macos": "desktop", "windows": "desktop", "linux": "desktop",
}
# fmt: on
#: The context keys `_from_context` reads: a context with none of them says nothing.
CONTEXT_KEYS: Final = ("voice", "library", "device")


def resolve_channel(
    declared: Channel | None, context: Mapping[str, Any], ua_channel: Channel | None
) -> Channel:
    """The event's channel (see the module docstring for the order)."""
    if declared is not None:
        return declared
    from_context = _from_context(context) if context else None
    if from_context == "voice" or ua_channel == "voice":
        return "voice"
    return from_context or ua_channel or "web"


def _from_context(context: Mapping[str, Any]) -> Channel | None:
    if context.get("voice"):
        return "voice"
    library = context.get("library")
    if type(library) is dict:
        name = library.get("name")
        if type(name) is str and _names_voice(name):
            return "voice"
    device = context.get("device")
    if type(device) is dict:
        kind = device.get("type")
        if type(kind) is str:
            return "voice" if _names_voice(kind) else _DEVICE_TYPES.get(kind.lower())
    return None


@lru_cache(maxsize=1024)
def _names_voice(name: str) -> bool:
    """Cached: a handful of SDK names and device types come with every event."""
    return _VOICE.search(name) is not None
