"""Choosing a rendition of a master playlist by bandwidth or resolution."""

from __future__ import annotations

import pytest

from headwater.sources.video.playlist import MasterPlaylist, Variant
from headwater.sources.video.variant import VariantPolicyError, check_policy, choose_variant

MASTER = MasterPlaylist(
    (
        Variant("mid.m3u8", 1_500_000, resolution=(960, 540)),
        Variant("low.m3u8", 400_000, resolution=(480, 270)),
        Variant("high.m3u8", 5_000_000, resolution=(1920, 1080)),
    )
)


@pytest.mark.parametrize(
    ("policy", "uri"),
    [
        ("max-bandwidth", "high.m3u8"),
        ("min-bandwidth", "low.m3u8"),
        ("bandwidth=2000000", "mid.m3u8"),
        ("bandwidth=100", "low.m3u8"),
        ("resolution=540", "mid.m3u8"),
        ("resolution=1280x720", "mid.m3u8"),
        ("resolution=4000", "high.m3u8"),
        ("resolution=100", "low.m3u8"),
    ],
)
def test_policy_picks_the_expected_variant(policy: str, uri: str) -> None:
    assert choose_variant(MASTER, policy).uri == uri


@pytest.mark.parametrize("policy", ["best", "bandwidth=", "resolution=big", "bandwidth=-1"])
def test_malformed_policies_are_refused(policy: str) -> None:
    with pytest.raises(VariantPolicyError, match="variant policy"):
        check_policy(policy)


def test_resolution_policy_needs_resolutions() -> None:
    with pytest.raises(VariantPolicyError, match="no RESOLUTION"):
        choose_variant(MasterPlaylist((Variant("a", 1),)), "resolution=720")
