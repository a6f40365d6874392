"""Channel: declared, else the context, else the user agent, else web."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.sources.clickstream.enrich.channel import resolve_channel


def test_declared_channel_wins() -> None:
    assert resolve_channel("desktop", {"device": {"type": "ios"}}, "voice") == "desktop"


@pytest.mark.parametrize(
    "context",
    [
        {"voice": True},
        {"device": {"type": "voice"}},
        {"device": {"type": "smart_speaker"}},
        {"library": {"name": "alexa-skills-kit-sdk"}},
        {"library": {"name": "jovo-framework"}},
    ],
)
def test_context_naming_a_voice_platform_is_voice(context: dict[str, Any]) -> None:
    assert resolve_channel(None, context, "web") == "voice"


def test_voice_user_agent_wins_over_the_device_platform() -> None:
    assert resolve_channel(None, {"device": {"type": "android"}}, "voice") == "voice"


@pytest.mark.parametrize(
    ("kind", "channel"), [("ios", "mobile"), ("android", "mobile"), ("macos", "desktop")]
)
def test_segment_sdk_device_type_gives_the_channel(kind: str, channel: str) -> None:
    assert resolve_channel(None, {"device": {"type": kind}}, "web") == channel


def test_form_factor_is_not_a_channel() -> None:
    assert resolve_channel(None, {"device": {"type": "mobile"}}, "web") == "web"


def test_user_agent_channel_then_web() -> None:
    assert resolve_channel(None, {}, "mobile") == "mobile"
    assert resolve_channel(None, {}, None) == "web"
    assert resolve_channel(None, {"device": "odd", "library": 3}, None) == "web"
