"""Choosing one rendition of a master playlist: by bandwidth or by resolution.

A policy is a short string so that it fits a CLI option and a config file:
`max-bandwidth` (the default: the best quality the origin offers), `min-bandwidth`,
`bandwidth=N` (the highest at or below N bits/s, else the lowest), `resolution=WxH` or
`resolution=H` (the closest at or below, by height, else the smallest).
"""

from __future__ import annotations

from headwater.sources.video.playlist import MasterPlaylist, Variant


class VariantPolicyError(ValueError):
    """The policy string is malformed, or no variant fits; the operator must fix the config."""

    retriable = False


def check_policy(policy: str) -> str:
    """Return `policy` if it is well formed, else raise `VariantPolicyError` (for the CLI)."""
    kind, _, value = policy.partition("=")
    if policy in ("max-bandwidth", "min-bandwidth"):
        return policy
    if kind == "bandwidth" and value.isdigit():
        return policy
    if kind == "resolution" and _height(value) is not None:
        return policy
    raise VariantPolicyError(
        f"variant policy {policy!r}: expected max-bandwidth, min-bandwidth, bandwidth=N, "
        "resolution=WxH or resolution=H"
    )


def choose_variant(master: MasterPlaylist, policy: str = "max-bandwidth") -> Variant:
    """The variant `policy` picks from `master`."""
    check_policy(policy)
    if not master.variants:
        raise VariantPolicyError("master playlist lists no variants")
    by_bandwidth = sorted(master.variants, key=lambda v: v.bandwidth)
    kind, _, value = policy.partition("=")
    if policy == "max-bandwidth":
        return by_bandwidth[-1]
    if policy == "min-bandwidth":
        return by_bandwidth[0]
    if kind == "bandwidth":
        fitting = [v for v in by_bandwidth if v.bandwidth <= int(value)]
        return fitting[-1] if fitting else by_bandwidth[0]
    height = _height(value)
    sized = [v for v in by_bandwidth if v.resolution is not None]
    if not sized:
        raise VariantPolicyError(f"{policy}: the master playlist gives no RESOLUTION")
    sized.sort(key=lambda v: (v.resolution[1], v.bandwidth))  # type: ignore[index]
    fitting = [v for v in sized if v.resolution[1] <= height]  # type: ignore[index,operator]
    return fitting[-1] if fitting else sized[0]


def _height(value: str) -> int | None:
    _, x, height = value.lower().rpartition("x")
    text = height if x else value
    return int(text) if text.isdigit() else None
