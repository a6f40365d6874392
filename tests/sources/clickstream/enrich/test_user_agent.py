"""Real user-agent strings from browsers, apps, assistants and bots, parsed exactly."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.enrich.user_agent import UNKNOWN, parse_user_agent

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
OKHTTP = "okhttp/4.12.0"
IOS_APP = "MyApp/3.2 (iPhone; iOS 17.1; Scale/3.00)"
IOS_CFNETWORK = "MyApp/1 CFNetwork/1494.0.7 Darwin/23.4.0"
MAC_CFNETWORK = "Slack/2024 CFNetwork/1494.0.7 Darwin/23.4.0 (x86_64)"
ANDROID_DALVIK = "Dalvik/2.1.0 (Linux; U; Android 13; SM-S918B Build/TP1A.220624.014)"
ELECTRON_SLACK = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Slack/4.38.125 Chrome/122.0.6261.156 Electron/29.4.0 Safari/537.36"
)
ELECTRON_VSCODE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Code/1.89.1 Chrome/120.0.6099.291 Electron/28.2.8 Safari/537.36"
)
ALEXA = "AlexaMediaPlayer/2.1.4676.0 (Linux;Android 5.1.1) ExoPlayerLib/1.5.9"
GOOGLE_ASSISTANT = "Google-Assistant"
SIRI = "Siri/1 CFNetwork/1494.0.7 Darwin/23.4.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36"
)
SAMSUNG_TV = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT P40) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)

# ua, (browser, browser_version, os, os_version, device_type, app), channel, is_bot
CASES = [
    (CHROME_WINDOWS, ("Chrome", "124.0.0.0", "Windows", "10", "desktop", None), "web", False),
    (FIREFOX_MAC, ("Firefox", "125.0", "Mac OS X", "10.15", "desktop", None), "web", False),
    (SAFARI_MAC, ("Safari", "17.4.1", "Mac OS X", "10.15.7", "desktop", None), "web", False),
    (SAFARI_IPHONE, ("Mobile Safari", "17.4.1", "iOS", "17.4.1", "mobile", None), "web", False),
    (
        CHROME_ANDROID,
        ("Chrome Mobile", "124.0.6367.82", "Android", "10", "mobile", None),
        "web",
        False,
    ),
    (FIREFOX_ANDROID, ("Firefox Mobile", "125.0", "Android", "14", "mobile", None), "web", False),
    (SAFARI_IPAD, ("Mobile Safari", "17.4", "iOS", "17.4", "tablet", None), "web", False),
    (CHROME_ANDROID_TABLET, ("Chrome", "124.0.0.0", "Android", "13", "tablet", None), "web", False),
    (OKHTTP, (None, None, None, None, "mobile", "okhttp/4.12.0"), "mobile", False),
    (IOS_APP, (None, None, "iOS", "17.1", "mobile", "MyApp/3.2"), "mobile", False),
    (IOS_CFNETWORK, (None, None, "iOS", "17.4", "mobile", "MyApp/1"), "mobile", False),
    (MAC_CFNETWORK, (None, None, "Mac OS X", None, "desktop", "Slack/2024"), "desktop", False),
    (ANDROID_DALVIK, (None, None, "Android", "13", "mobile", "Dalvik/2.1.0"), "mobile", False),
    (
        ELECTRON_SLACK,
        ("Electron", "29.4.0", "Mac OS X", "10.15.7", "desktop", "Slack/4.38.125"),
        "desktop",
        False,
    ),
    (
        ELECTRON_VSCODE,
        ("Electron", "28.2.8", "Windows", "10", "desktop", "Code/1.89.1"),
        "desktop",
        False,
    ),
    (
        ALEXA,
        (None, None, "Android", "5.1.1", "speaker", "AlexaMediaPlayer/2.1.4676.0"),
        "voice",
        False,
    ),
    (GOOGLE_ASSISTANT, (None, None, None, None, "speaker", "Google-Assistant"), "voice", False),
    (SIRI, (None, None, "iOS", "17.4", "mobile", "Siri/1"), "voice", False),
    (GOOGLEBOT, ("Googlebot", "2.1", None, None, "bot", None), None, True),
    (GOOGLEBOT_SMARTPHONE, ("Googlebot", "2.1", "Android", "6.0.1", "bot", None), None, True),
    (HEADLESS_CHROME, ("HeadlessChrome", "124.0.6367", "Linux", None, "bot", None), None, True),
    ("curl/8.5.0", ("curl", "8.5.0", None, None, "bot", None), None, True),
    ("Wget/1.21.4", ("Wget", "1.21.4", None, None, "bot", None), None, True),
    ("python-requests/2.31.0", ("Python Requests", "2.31", None, None, "bot", None), None, True),
    (SAMSUNG_TV, ("Samsung Internet", "4.0", "Tizen", "6.0", "tv", None), "web", False),
    (CUBOT_PHONE, ("Chrome", "124.0", "Android", "10", "mobile", None), "web", False),
]


@pytest.mark.parametrize(("ua", "expected", "channel", "is_bot"), CASES)
def test_real_user_agents_parse_exactly(
    ua: str, expected: tuple[str | None, ...], channel: str | None, is_bot: bool
) -> None:
    info = parse_user_agent(ua)
    browser, browser_version, os_, os_version, device_type, app = expected
    assert info.parsed == {
        "raw": ua,
        "browser": browser,
        "browser_version": browser_version,
        "os": os_,
        "os_version": os_version,
        "device_type": device_type,
        "app": app,
    }
    assert info.channel == channel
    assert info.is_bot is is_bot


def test_empty_user_agent_is_unknown() -> None:
    assert parse_user_agent("") is UNKNOWN
    assert UNKNOWN.parsed["device_type"] == "other"
    assert UNKNOWN.channel is None
    assert UNKNOWN.is_bot is False


def test_same_string_is_parsed_once() -> None:
    ua = CHROME_WINDOWS.replace("124.0.0.0", "124.0.0.99")
    assert parse_user_agent(ua) is parse_user_agent("".join(ua))


def test_oversized_user_agent_keeps_its_raw_value() -> None:
    ua = CHROME_WINDOWS + " " + "x" * 5000
    info = parse_user_agent(ua)
    assert info.parsed["raw"] == ua
    assert info.parsed["browser"] == "Chrome"


def test_non_browser_string_is_an_app_not_a_browser() -> None:
    info = parse_user_agent("Instagram 329.0.0.41.93 (iPhone14,5; iOS 17_4_1; en_US; en)")
    assert info.parsed["browser"] is None
    assert info.parsed["app"] == "Instagram 329.0.0.41.93"
    assert info.channel == "mobile"
