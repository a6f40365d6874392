"""User-Agent string → browser, OS, device type, native app, channel and bot flag.

ua-parser (its Rust regex backend when installed) names the browser, OS and device; on top of
it a few rules that it does not cover:

- Rule 1: only `Mozilla/…` and `Opera/…` strings are browsers. Any other UA is a native app or an
  HTTP library (`MyApp/3.2 (iPhone; iOS 17.1)`, `okhttp/4.12.0`, `… CFNetwork/… Darwin/…`): its
  leading product token is the `app` and `browser` stays None (ua-parser would call a bare iOS app
  "Mobile Safari UI/WKWebView").
- Rule 2: Electron shells are desktop apps; their own product token (`Slack/4.38.125`) is the app.
- Rule 3: a bot is ua-parser's "Spider" device, or a UA carrying a crawler token, a contact URL,
  a headless browser or a scripting client (curl, wget, python-requests, …). okhttp and Dalvik
  are mobile apps, not bots.
- Rule 4: game consoles count as "tv" (ten-foot screens); voice assistants without a phone or TV
  around them count as "speaker".

Parsing costs tens to hundreds of microseconds, so the finished answers are kept in a bounded LRU
keyed by the whole string (ua-parser's own cache would only hold its part of the work); a hit
costs a dictionary lookup. The cached `ParsedUserAgent` is a `FrozenDict`, shared by the records of
every event with that user agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal, cast

import ua_parser
from ua_parser import Domain, Resolver

from headwater.sources.clickstream.enrich.frozen import FrozenDict
from headwater.sources.clickstream.model import Channel, ParsedUserAgent

DeviceType = Literal["desktop", "mobile", "tablet", "tv", "speaker", "bot", "other"]

#: Distinct user agents remembered; a busy site sees a few thousand that matter.
CACHE_SIZE = 10_000
#: Longer strings are cut before matching: no real UA is longer, and regexes cost per character.
MAX_PARSED_LENGTH = 1024

_BOT = re.compile(
    r"(?<!cu)bot\b|crawl|spider|slurp|scrap|headless|phantomjs|lighthouse|pingdom|uptime"
    r"|facebookexternalhit|https?://"
    r"|^(?:curl|wget|python-requests|python-urllib|python-httpx|aiohttp|httpx|go-http-client"
    r"|java|apache-httpclient|libwww-perl|node-fetch|axios|undici|postmanruntime|httpie"
    r"|ruby|php|guzzlehttp)\b",
    re.IGNORECASE,
)
_VOICE = re.compile(
    r"alexa|\becho\b|google-?assistant|actionsongoogle|\bsiri\b|cortana|bixby|homepod|sonos"
    r"|google ?home",
    re.IGNORECASE,
)
_SPEAKER = re.compile(r"alexamediaplayer|\becho\b|homepod|sonos|google ?home", re.IGNORECASE)
_TV = re.compile(
    r"smart-?tv|\btv\b|googletv|appletv|tvos|\broku\b|crkey|bravia|hbbtv|netcast|web0s"
    r"|; aft[a-z]|playstation|xbox|nintendo",
    re.IGNORECASE,
)
_TABLET = re.compile(r"tablet|ipad|kindle|silk/|playbook", re.IGNORECASE)
_MOBILE_APP = re.compile(
    r"okhttp|dalvik|cfnetwork|\bios\b|iphone|ipad|ipod|android|watchos", re.IGNORECASE
)
_MAC_CFNETWORK = re.compile(r"darwin/[\d.]+ \((?:x86_64|arm64)\)", re.IGNORECASE)
_APP_TOKEN = re.compile(r"[A-Za-z][\w.\-%]*(?:/[\w.\-]+| \d[\w.\-]*)?")
_PRODUCT = re.compile(r"([A-Za-z][\w.\-]*)/([\w.\-]+)")
# fmt: off
_NOT_APP = frozenset(
    {"Mozilla", "AppleWebKit", "Chrome", "Safari", "Electron", "Gecko", "Version", "Mobile"}
)
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS",
     "HarmonyOS", "webOS", "Tizen"}
)
_DESKTOP_OS = frozenset({"Mac OS X", "Chrome OS", "Ubuntu", "Fedora", "Debian", "Solaris"})
# fmt: on


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What one user agent says: the record's `user_agent`, the channel it implies, a bot?"""

    parsed: ParsedUserAgent  # a FrozenDict
    channel: Channel | None  # None when the UA does not tell (the caller's default applies)
    is_bot: bool


UNKNOWN = UserAgentInfo(
    cast(
        ParsedUserAgent,
        FrozenDict(
            raw=None,
            browser=None,
            browser_version=None,
            os=None,
            os_version=None,
            device_type="other",
            app=None,
        ),
    ),
    None,
    False,
)


@cache
def _resolver() -> Resolver:
    """The fastest installed backend, built once (it compiles its regexes lazily)."""
    backend = ua_parser.BestAvailableResolver
    lazy = backend is not ua_parser.BasicResolver
    return backend(ua_parser.load_lazy_builtins() if lazy else ua_parser.load_builtins())


def warm_up() -> None:
    """Build the resolver now, so the first request does not pay for it."""
    _resolver()


@lru_cache(maxsize=CACHE_SIZE)
def parse_user_agent(ua: str) -> UserAgentInfo:
    """Everything enrichment needs from one UA string (cached; see the module docstring)."""
    if not ua:
        return UNKNOWN
    text = ua[:MAX_PARSED_LENGTH]
    result = _resolver()(text, Domain.ALL).complete()
    agent, os_, device = result.user_agent, result.os, result.device
    os_name = os_version = None
    if os_ and os_.family != "Other":
        os_name = os_.family
        os_version = _version(os_.major, os_.minor, os_.patch, os_.patch_minor)
    device_family = device.family if device else ""
    if os_name == "iOS" and device_family == "Mac":  # CFNetwork on macOS, Darwin (x86_64|arm64)
        os_name, os_version = "Mac OS X", None
    is_bot = device_family == "Spider" or _BOT.search(text) is not None
    browser_like = text.startswith(("Mozilla/", "Opera/"))
    electron = browser_like and "Electron/" in text
    voice = _VOICE.search(text) is not None

    browser = browser_version = app = None
    if browser_like or is_bot:
        if agent and agent.family != "Other":
            browser = agent.family
            browser_version = _version(agent.major, agent.minor, agent.patch, agent.patch_minor)
        if electron:
            app = _electron_app(text)
    else:
        token = _APP_TOKEN.match(text)
        app = token.group(0) if token else None

    device_type = _device_type(text, os_name, device, is_bot, browser_like, voice)
    channel = _channel(text, os_name, is_bot, browser_like, electron, voice)
    parsed: FrozenDict[str, str | None] = FrozenDict(
        raw=ua,
        browser=browser,
        browser_version=browser_version,
        os=os_name,
        os_version=os_version,
        device_type=device_type,
        app=app,
    )
    return UserAgentInfo(cast(ParsedUserAgent, parsed), channel, is_bot)


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p is not None]
    return ".".join(kept) if kept else None


def _electron_app(ua: str) -> str:
    """The shell's own product token (`Slack/4.38.125`), else `Electron/<version>`."""
    electron = "Electron"
    for name, version in _PRODUCT.findall(ua):
        if name not in _NOT_APP:
            return f"{name}/{version}"
        if name == "Electron":
            electron = f"Electron/{version}"
    return electron


def _device_type(
    ua: str,
    os_name: str | None,
    device: ua_parser.Device | None,
    is_bot: bool,
    browser_like: bool,
    voice: bool,
) -> DeviceType:
    if is_bot:
        return "bot"
    if _SPEAKER.search(ua):
        return "speaker"
    if _TV.search(ua):
        return "tv"
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    if os_name == "Mac OS X" or family == "Mac":
        return "desktop"
    if (
        family == "iPad"
        or "Tablet" in brand
        or "Kindle" in family
        or _TABLET.search(ua)
        or (os_name == "Android" and browser_like and "Mobile" not in ua)
    ):
        return "tablet"
    if (
        os_name in _MOBILE_OS
        or "Mobile" in ua
        or family in ("iPhone", "iPod", "iOS-Device")
        or family.startswith("Generic Smartphone")
        or (not browser_like and _MOBILE_APP.search(ua))
    ):
        return "mobile"
    if os_name and (
        os_name in _DESKTOP_OS
        or os_name.startswith("Windows")
        or "Linux" in os_name
        or "BSD" in os_name
    ):
        return "desktop"
    return "speaker" if voice else "other"


def _channel(
    ua: str, os_name: str | None, is_bot: bool, browser_like: bool, electron: bool, voice: bool
) -> Channel | None:
    if is_bot:
        return None
    if voice:
        return "voice"
    if browser_like:
        return "desktop" if electron else "web"
    if os_name == "Mac OS X" or _MAC_CFNETWORK.search(ua):
        return "desktop"
    if _MOBILE_APP.search(ua):
        return "mobile"
    if os_name and (os_name.startswith("Windows") or "Linux" in os_name):
        return "desktop"
    return None
