"""Topic names as DESIGN.md spells them, and what the sink reads back from a change topic's name."""

from __future__ import annotations

from headwater.contracts import topics
from headwater.transport import TopicSpec


def test_fixed_names_are_those_of_the_design() -> None:
    assert topics.CLICKSTREAM_EVENTS == "clickstream.events"
    assert topics.CLICKSTREAM_INVALID == "clickstream.invalid"
    assert (topics.VIDEO_SEGMENTS, topics.VIDEO_FRAMES) == ("video.segments", "video.frames")
    assert (topics.FEEDS_ITEMS, topics.CRAWL_PAGES) == ("feeds.items", "crawl.pages")
    assert topics.POSITIONS == "_headwater.positions"


def test_parametrised_names_replace_what_a_topic_may_not_hold_and_the_dot() -> None:
    assert topics.clickstream_route("search") == "clickstream.search"
    assert topics.cdc_table("shop", "public", "orders") == "cdc.shop.public.orders"
    assert topics.cdc_table("shop", "my.db", "order$") == "cdc.shop.my_db.order_"
    assert topics.cdc_schema("shop") == "cdc.shop.schema"
    assert topics.cdc_transaction("shop") == "cdc.shop.transaction"
    assert topics.files("my uploads") == "files.my_uploads"
    for name in (topics.cdc_table("a b", "ü", "x/y"), topics.files("..")):
        TopicSpec(name)  # a name Kafka accepts


def test_a_change_topic_name_parses_back_to_its_parts() -> None:
    name = topics.cdc_table("shop", "my db", "orders")
    assert topics.parse_cdc_table(name) == ("shop", "my_db", "orders")
    assert topics.parse_cdc_table(name).database == "my_db"
    assert topics.parse_cdc_table(topics.cdc_schema("shop")) is None
    assert topics.parse_cdc_table(topics.CLICKSTREAM_EVENTS) is None
