"""Which referring hosts are search engines, social networks or mail clients, and their names.

Two tables, matched on whole labels, never substrings (`notgoogle.com` is nobody):

- `DOMAINS`: a registered domain or a host, matched on the host or any parent of it, the longest
  first, so `mail.google.com` (email) wins over the brand rule for `google.com` (search).
  Android apps send `android-app://<package>/`; their package names are in here too.
- `BRANDS`: a name registered under many country domains (`google.co.uk`, `yandex.ru`,
  `yahoo.co.jp`): matched when the label is followed only by a top-level domain, optionally
  after a second-level one such as `co.`/`com.`.

Sources are short, stable names for grouping ("twitter" for twitter.com, x.com and t.co alike).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from headwater.sources.clickstream.model import Medium

Known = tuple[Medium, str]

# fmt: off
_SEARCH: Final = {
    "duckduckgo.com": "duckduckgo", "ecosia.org": "ecosia", "search.brave.com": "brave",
    "startpage.com": "startpage", "qwant.com": "qwant", "ask.com": "ask", "naver.com": "naver",
    "seznam.cz": "seznam", "sogou.com": "sogou", "so.com": "360", "ya.ru": "yandex",
    "search.aol.com": "aol", "kagi.com": "kagi", "perplexity.ai": "perplexity",
    "com.google.android.googlequicksearchbox": "google",
}
_SOCIAL: Final = {
    "facebook.com": "facebook", "fb.com": "facebook", "fb.me": "facebook",
    "messenger.com": "facebook", "com.facebook.katana": "facebook",
    "instagram.com": "instagram", "com.instagram.android": "instagram",
    "twitter.com": "twitter", "x.com": "twitter", "t.co": "twitter",
    "com.twitter.android": "twitter",
    "linkedin.com": "linkedin", "lnkd.in": "linkedin", "com.linkedin.android": "linkedin",
    "reddit.com": "reddit", "redd.it": "reddit", "com.reddit.frontpage": "reddit",
    "youtube.com": "youtube", "youtu.be": "youtube", "com.google.android.youtube": "youtube",
    "tiktok.com": "tiktok", "pin.it": "pinterest", "threads.net": "threads",
    "bsky.app": "bluesky", "mastodon.social": "mastodon", "vk.com": "vk", "ok.ru": "odnoklassniki",
    "tumblr.com": "tumblr", "quora.com": "quora", "snapchat.com": "snapchat",
    "news.ycombinator.com": "hackernews", "t.me": "telegram", "web.telegram.org": "telegram",
    "whatsapp.com": "whatsapp", "wa.me": "whatsapp", "discord.com": "discord",
    "weibo.com": "weibo",
}
_EMAIL: Final = {
    "mail.google.com": "gmail", "gmail.com": "gmail", "com.google.android.gm": "gmail",
    "outlook.live.com": "outlook", "outlook.office.com": "outlook",
    "outlook.office365.com": "outlook", "com.microsoft.office.outlook": "outlook",
    "mail.yahoo.com": "yahoo", "mail.aol.com": "aol", "mail.proton.me": "proton",
    "mail.protonmail.com": "proton", "mail.zoho.com": "zoho", "mail.yandex.ru": "yandex",
    "mail.yandex.com": "yandex", "e.mail.ru": "mail.ru", "fastmail.com": "fastmail",
    "mail.com": "mail.com", "gmx.net": "gmx", "gmx.de": "gmx", "icloud.com": "icloud",
}

DOMAINS: Final[dict[str, Known]] = {
    **{host: ("search", name) for host, name in _SEARCH.items()},
    **{host: ("social", name) for host, name in _SOCIAL.items()},
    **{host: ("email", name) for host, name in _EMAIL.items()},
}
BRANDS: Final[dict[str, Known]] = {
    "google": ("search", "google"), "bing": ("search", "bing"), "yahoo": ("search", "yahoo"),
    "yandex": ("search", "yandex"), "baidu": ("search", "baidu"),
    "duckduckgo": ("search", "duckduckgo"), "pinterest": ("social", "pinterest"),
    "facebook": ("social", "facebook"), "linkedin": ("social", "linkedin"),
}
#: Second-level labels under which country domains register names: google.co.uk, google.com.br.
_SECOND_LEVEL: Final = frozenset({"co", "com", "org", "net", "ne", "or", "ac", "gob", "gov"})
# fmt: on


@lru_cache(maxsize=10_000)
def lookup_host(host: str) -> Known | None:
    """(medium, source) for a known referring host, else None. `host` is lower-case."""
    labels = host.split(".")
    for i in range(max(len(labels) - 1, 1)):  # every parent domain, not the bare TLD
        known = DOMAINS.get(".".join(labels[i:]))
        if known is not None:
            return known
    for i, label in enumerate(labels):
        known = BRANDS.get(label)
        if known is not None and _is_public_suffix(labels[i + 1 :]):
            return known
    return None


def _is_public_suffix(labels: list[str]) -> bool:
    """`com`, `de`, `co.uk`, `com.br`: what may follow a brand name."""
    if len(labels) == 1:
        return labels[0].isalpha()
    if len(labels) == 2:
        return labels[0] in _SECOND_LEVEL and len(labels[1]) == 2 and labels[1].isalpha()
    return False
