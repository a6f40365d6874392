"""utm_* from the client's campaign, else from the landing URL."""

from __future__ import annotations

from headwater.sources.clickstream.enrich.campaign import campaign_of

LANDING = (
    "https://shop.example/spring?utm_source=newsletter&utm_medium=email"
    "&utm_campaign=spring%20sale&utm_term=red+shoes&utm_content=hero&ref=x#top"
)


def test_campaign_is_read_from_the_page_url() -> None:
    assert campaign_of({}, LANDING) == {
        "source": "newsletter",
        "medium": "email",
        "name": "spring sale",
        "term": "red shoes",
        "content": "hero",
    }


def test_client_campaign_wins_over_the_page_url() -> None:
    declared = {"source": "app", "medium": "push", "name": "winter"}
    got = campaign_of(declared, LANDING)
    assert got == declared
    assert got is not declared


def test_client_campaign_keys_are_normalised() -> None:
    declared = {"utm_source": "partner", "campaign": "q3", "medium": "", "id": "42"}
    assert campaign_of(declared, None) == {"source": "partner", "name": "q3", "id": "42"}


def test_other_utm_parameters_keep_their_name_and_first_value_wins() -> None:
    url = "https://e.com/?utm_id=7&utm_source=a&utm_source=b&utm_medium="
    assert campaign_of({}, url) == {"id": "7", "source": "a"}


def test_no_campaign_is_an_empty_dict() -> None:
    assert campaign_of({}, "https://e.com/p?x=1") == {}
    assert campaign_of({}, "https://e.com/p#utm_source=fragment") == {}
    assert campaign_of({}, None) == {}


def test_each_call_returns_its_own_dict() -> None:
    first = campaign_of({}, LANDING)
    first["source"] = "changed"
    assert campaign_of({}, LANDING)["source"] == "newsletter"
