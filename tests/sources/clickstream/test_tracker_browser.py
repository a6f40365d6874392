"""The JS tracker (`t.js`) in a real headless Chromium, against a real collector and broker.

The test pages are served from `pages/` on `localhost`, the collector listens on `127.0.0.1`: a
different origin (and site), so CORS preflights and credentialed requests are exercised as on a
customer's site. Results are read back from `clickstream.events` as enriched `ClickEvent`s.
Skipped when Chromium is not installed (`make test` installs it via scripts/bootstrap.sh).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from tests.kit.consuming import consume_until, valid_messages
from tests.kit.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
PAGES = Path(__file__).parent / "pages"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REFERRER = "https://www.google.com/"
UTM = "utm_source=newsletter&utm_medium=email&utm_campaign=launch"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


class _PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves `pages/`, with `__COLLECTOR__` in HTML replaced by the collector's origin."""

    collector_url = ""

    def do_GET(self) -> None:
        path = PAGES / self.path.split("?")[0].lstrip("/")
        if path.suffix != ".html" or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes().replace(b"__COLLECTOR__", self.collector_url.encode())
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(collector) -> Iterator[str]:
    """The test pages over HTTP on a free port; yields the site's origin (http://localhost:P)."""
    handler = type("Handler", (_PageHandler,), {"collector_url": collector.url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (no cookies, no storage) and one tab in it."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def read_events(
    bootstrap: str,
    done: Callable[[list[dict]], bool],
    deadline_s: float = 30.0,
    context: Callable[[], object] = lambda: "",
) -> list[dict]:
    """ClickEvents from `clickstream.events` until `done(events)`; fails naming the events that
    arrived (and `context()`, e.g. the page's console) if it does not hold by `deadline_s`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["clickstream.events"])
    try:
        return consume_until(
            lambda _: [orjson.loads(m.value()) for m in valid_messages(consumer.consume(100, 0.2))],
            done,
            deadline_s,
            "the tracker's events in clickstream.events",
            lambda got: f"got {names(got)} {context()}",
        )
    finally:
        consumer.close()


def names(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def accepted(response) -> bool:
    """The collector's 200 to a POST of events (pass to `page.expect_response`)."""
    return response.request.method == "POST" and response.status == 200


def open_tracked(page, url: str, **kwargs: Any) -> None:
    page.goto(url, **kwargs)
    page.wait_for_function("window.headwater && window.headwater.version")


def test_tracker_page_clicks_and_custom_event_land_in_one_session(broker, collector, site, page):
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    open_tracked(page, f"{site}/index.html?{UTM}", referer=REFERRER)
    page.click("#buy")
    page.evaluate("headwater.track('video_play', {video_id: 'v42'})")
    page.click("#next")  # navigates: page 1's queue leaves by the pagehide beacon
    page.wait_for_url(f"{site}/page2.html")
    page.wait_for_function("window.headwater && window.headwater.version")
    page.evaluate("headwater.flush()")  # page 2's view leaves by fetch

    expected = ["page", "track:click", "track:video_play", "track:click", "page"]
    events = read_events(
        broker.bootstrap, lambda got: len(got) >= len(expected), context=lambda: console
    )
    # page 1's beacon and page 2's fetch are separate requests: order by the client's clock
    events.sort(key=lambda e: e["client_ts"])
    assert names(events) == expected, (names(events), console, collector.log_text())

    view, buy, play, link, view2 = events
    cookies = {c["name"]: c["value"] for c in page.context.cookies(site)}
    assert {e["anonymous_id"] for e in events} == {cookies["hw_aid"]}
    assert {e["session_id"] for e in events} == {cookies["hw_sid"]}
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["channel"] == "web" and e["user_id"] is None for e in events)

    assert view["request"]["url"] == f"{site}/index.html?{UTM}"
    assert view["request"]["path"] == "/index.html"
    assert view["referrer"]["url"] == REFERRER
    # utm_medium=email outranks the search engine's referrer (enrich/referrer.py, rule 2)
    assert view["referrer"]["medium"] == "email" and view["referrer"]["source"] == "newsletter"
    assert view["campaign"] == {"source": "newsletter", "medium": "email", "name": "launch"}
    assert view["user_agent"]["browser"] in ("Chrome", "Chromium", "HeadlessChrome")
    assert view["client_ts"] <= view["sent_ts"] and view["ts"] <= view["received_ts"]

    assert buy["request"]["properties"] == {
        "tag": "button",
        "text": "Buy now",
        "href": None,
        "id": "buy",
        "classes": ["btn", "primary"],
    }
    assert link["request"]["properties"] == {
        "tag": "a",
        "text": "Next page",
        "href": f"{site}/page2.html",
        "id": "next",
        "classes": ["nav"],
    }
    assert play["request"]["properties"] == {"video_id": "v42"}
    assert view2["request"]["path"] == "/page2.html"
    assert view2["referrer"] == {
        "url": f"{site}/index.html?{UTM}",
        "medium": "internal",
        "source": "localhost",
    }


#: Counts the page's fetch calls, and fetches whose answer the caller's own handlers have taken
#: (a microtask queued after theirs), so a test knows when the tracker has seen an answer.
COUNT_FETCHES = """
(() => {
  const real = window.fetch;
  window.__fetches = 0; window.__answered = 0;
  window.fetch = function (...args) {
    window.__fetches++;
    const answer = real.apply(this, args);
    const taken = () => Promise.resolve().then(() => { window.__answered++; });
    answer.then(taken, taken);
    return answer;
  };
})();
"""


def test_tracker_retries_a_503_after_retry_after_with_the_same_message_id(
    broker, collector, site, page
):
    """Retry-After: 60 on a fake page clock: nothing is sent again before it passes (backoff
    alone would retry within 1 s), the retry after it carries the same message id."""
    posts: list[list[dict]] = []

    def answer(route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(orjson.loads(route.request.post_data_buffer))
        if len(posts) > 1:
            route.continue_()
            return
        origin = route.request.headers.get("origin", "*")
        route.fulfill(
            status=503,
            body='{"success": false}',
            headers={
                "retry-after": "60",
                "content-type": "application/json",
                "access-control-allow-origin": origin,
                "access-control-allow-credentials": "true",
                "access-control-expose-headers": "retry-after",
            },
        )

    page.add_init_script(COUNT_FETCHES)
    page.clock.install()
    page.route(f"{collector.url}/collect*", answer)
    open_tracked(page, f"{site}/index.html")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 503):
        page.evaluate("headwater.flush()")  # route handlers run while Playwright waits
    wait_until(lambda: page.evaluate("window.__answered") >= 1, 15, "the tracker to see the 503")
    page.clock.run_for(59_000)
    assert page.evaluate("window.__fetches") == 1, "retried before Retry-After passed"
    with page.expect_response(accepted):
        page.clock.run_for(2_000)

    events = read_events(broker.bootstrap, lambda got: len(got) >= 1)
    assert names(events) == ["page"]
    first, second = posts
    assert [e["messageId"] for e in first] == [e["messageId"] for e in second]
    assert events[0]["event_id"] == first[0]["messageId"]


def test_events_queued_while_unreachable_survive_a_reload(broker, collector, site, page):
    reachable = threading.Event()
    delivered: list[str] = []  # event names POSTed once the collector was reachable again

    def network(route) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif reachable.is_set():
            delivered.extend(
                e.get("event") or e["type"] for e in orjson.loads(route.request.post_data_buffer)
            )
            route.continue_()
        else:
            route.abort("internetdisconnected")

    page.route(f"{collector.url}/collect*", network)
    open_tracked(page, f"{site}/index.html")
    page.evaluate("headwater.track('offline_event', {n: 1})")
    page.evaluate("headwater.flush()")  # fails: the queue stays in localStorage
    page.wait_for_function("""() => Object.keys(localStorage).some(k => k.startsWith('hw_q_')
                              && localStorage.getItem(k).includes('offline_event'))""")

    open_tracked(page, f"{site}/page2.html")  # no beacon while failing: the queue waits
    reachable.set()
    with page.expect_response(accepted):
        page.evaluate("headwater.flush()")

    events = read_events(broker.bootstrap, lambda got: len(got) >= 3)
    assert sorted(names(events)) == ["page", "page", "track:offline_event"]
    assert {e["request"]["path"] for e in events} == {"/index.html", "/page2.html"}
    assert sorted(delivered) == ["offline_event", "page", "page"]  # all sent by page 2
