"""The pixel snippet in headless Chromium, pasted into a page of another site: a small http.server on another
port of localhost, so the script and its beacons cross origins exactly as on a customer's site.

Every test waits on what the database holds (the beacons are stored by live_server's thread), never on sleeps,
and checks that the host page's console stayed clean."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from visitors.models import Event, Pixel, Visitor
from visitors.services import pixel_create

from .pixel_site import HostSite, Tab, close_tab, open_tab, snippet, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "hunter2@correct-horse.example"


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def tab(browser, pixel) -> Iterator[Tab]:
    opened = open_tab(browser)
    yield opened
    close_tab(opened)


@pytest.fixture
def pixel(tenant, live_server, settings) -> Pixel:
    settings.SITE_URL = live_server.url
    return pixel_create(workspace=tenant.workspace, name="Host site", domain="localhost")


def stored(pixel: Pixel, type_: str, count: int = 1) -> list[Event]:
    """Wait until the pixel has at least `count` events of this type, and return them in arrival order."""

    def events():
        found = list(Event.objects.filter(pixel_id=pixel.pk, type=type_).order_by("id"))
        return found if len(found) >= count else None

    return wait_for(events, f"{count} {type_} event(s)")


def loaded(tab: Tab, url: str) -> None:
    tab.page.goto(url)
    tab.page.wait_for_function("window.cursive && window.cursive.ready === true")


def test_pageviews_on_load_and_on_each_spa_navigation_make_one_visitor_and_activate_the_pixel(tab, host_site, pixel):
    assert pixel.status == Pixel.Status.WAITING
    url = host_site.page("/app", head=snippet(pixel))
    loaded(tab, url)
    # Beacons of different pages travel in requests of their own, which may arrive in any order: each page's
    # pageview is awaited before the next navigation, which also leaves each page some engaged time to report.
    stored(pixel, "pageview", 1)
    tab.page.evaluate("history.pushState({}, '', '/app/pricing')")
    stored(pixel, "pageview", 2)
    # The same URL again (a router storing its state) is not another page.
    tab.page.evaluate("history.replaceState({step: 2}, '', '/app/pricing')")
    tab.page.evaluate("history.pushState({}, '', '/app/demo?plan=pro')")
    stored(pixel, "pageview", 3)
    tab.page.go_back()

    pageviews = stored(pixel, "pageview", 4)
    base = host_site.url
    assert [event.url for event in pageviews] == [
        f"{base}/app",
        f"{base}/app/pricing",
        f"{base}/app/demo?plan=pro",
        f"{base}/app/pricing",
    ]
    assert pageviews[1].referrer == f"{base}/app" and pageviews[0].title == "Host page"
    # Leaving each page reported its engaged time first, under that page's URL.
    engagements = stored(pixel, "engagement", 3)
    assert [event.url for event in engagements] == [event.url for event in pageviews[:3]]
    assert all(event.engaged_ms > 0 for event in engagements)

    visitor = Visitor.objects.get(pixel=pixel)
    assert visitor.pageviews == 4 and visitor.last_url == f"{base}/app/pricing"
    assert visitor.key == tab.page.evaluate("localStorage.getItem('cursive_vid')")
    assert len(visitor.key) == 32
    pixel.refresh_from_db()
    assert pixel.status == Pixel.Status.ACTIVE and pixel.last_event_at is not None
    assert {event.visitor_id for event in Event.objects.filter(pixel_id=pixel.pk)} == {visitor.pk}

    # A later visit from the same browser is the same visitor.
    loaded(tab, url)
    wait_for(lambda: Visitor.objects.get(pixel=pixel).pageviews == 5, "the fifth pageview")
    assert Visitor.objects.filter(pixel=pixel).count() == 1
    assert tab.problems == []


def test_a_submitted_form_sends_its_email_and_names_never_its_password_and_ignored_forms_send_nothing(tab, host_site, pixel):
    # Fields that must never be read come first, named like the ones that are read.
    inputs = (
        f'<input type="password" name="email_password" value="{PASSWORD}">'
        '<input type="hidden" name="company" value="t0k3n">'
        '<input name="company_size" value="11-50">'
        '<input type="email" name="work_email" value="ada@lovelace.example">'
        '<input name="first_name" value="Ada"><input name="lastName" value="Lovelace">'
        '<input name="company" value="Analytical Engines">'
        "<button>Sign up</button>"
    )
    host_site.page("/thanks", head="")
    url = host_site.page(
        "/signup",
        head=snippet(pixel),
        body=(
            f'<div data-cursive-ignore><form id="ignored" action="/thanks">{inputs}</form></div>'
            f'<form id="signup" action="/thanks" method="get">{inputs}</form>'
        ),
    )
    loaded(tab, url)
    tab.page.click("#ignored button")
    tab.page.wait_for_url(f"{host_site.url}/thanks*")
    loaded(tab, url)
    tab.page.click("#signup button")
    tab.page.wait_for_url(f"{host_site.url}/thanks*")

    (form,) = stored(pixel, "form")
    assert form.data == {
        "email": "ada@lovelace.example",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company_name": "Analytical Engines",
    }
    assert form.url == url and form.visitor_id == Visitor.objects.get(pixel=pixel).pk
    sent = [event for event in tab.beacon_events() if event["type"] == "form"]
    assert len(sent) == 1, "the form inside data-cursive-ignore sent something"
    everything = json.dumps(tab.beacons) + json.dumps(list(Event.objects.filter(pixel_id=pixel.pk).values()), default=str)
    assert PASSWORD not in everything and "t0k3n" not in everything
    assert tab.problems == []


def test_a_form_without_a_plausible_email_sends_nothing(tab, host_site, pixel):
    host_site.page("/thanks", head="")
    url = host_site.page(
        "/contact",
        head=snippet(pixel),
        body='<form action="/thanks"><input name="email" value="not an address"><button>Send</button></form>',
    )
    loaded(tab, url)
    tab.page.click("button")
    tab.page.wait_for_url(f"{host_site.url}/thanks*")
    stored(pixel, "pageview")
    assert [event["type"] for event in tab.beacon_events()] == ["pageview"]


def test_calls_queued_before_the_script_loads_are_sent_once_it_has(tab, host_site, pixel):
    early_calls = (
        "<script>"
        "cursive('identify', {email: 'grace@hopper.example', first_name: 'Grace', title: 'Rear Admiral'});"
        "cursive('track', 'Signed up', {plan: 'pro'});"
        "cursive('no such command', 1);"
        "</script>"
    )
    # The stub and the early calls run before the async script has even been fetched.
    stub, script_tag = snippet(pixel).split("\n")
    loaded(tab, host_site.page("/welcome", head=stub + early_calls + script_tag))

    (identify,) = stored(pixel, "identify")
    assert identify.data == {"email": "grace@hopper.example", "first_name": "Grace", "title": "Rear Admiral"}
    (track,) = stored(pixel, "track")
    assert track.name == "Signed up" and track.data == {"plan": "pro"}
    visitor = Visitor.objects.get(pixel=pixel)
    assert identify.visitor_id == track.visitor_id == visitor.pk
    # Calls made after loading go straight out.
    tab.page.evaluate("cursive('track', 'Watched demo')")
    assert stored(pixel, "track", 2)[1].name == "Watched demo"
    assert tab.problems == []


def test_an_email_link_click_id_rides_on_the_pageview(tab, host_site, pixel):
    url = host_site.page("/offer", head=snippet(pixel))
    loaded(tab, f"{url}?utm_source=email&cursive_cid=c1.signed-value")
    (pageview,) = stored(pixel, "pageview")
    assert pageview.data == {"click_id": "c1.signed-value"}
    tab.page.evaluate("history.pushState({}, '', '/offer/details')")
    assert stored(pixel, "pageview", 2)[1].data is None


def test_cookieless_mode_stores_nothing_in_the_browser(tab, host_site, pixel):
    url = host_site.page("/", head=snippet(pixel, " data-cookieless"))
    loaded(tab, url)
    stored(pixel, "pageview")
    assert tab.page.evaluate("localStorage.length") == 0
    assert tab.page.context.cookies() == []
    # Without a stored id, the next page load is a visitor of its own.
    loaded(tab, url)
    stored(pixel, "pageview", 2)
    assert Visitor.objects.filter(pixel=pixel).count() == 2
    assert tab.problems == []


GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"


@pytest.mark.parametrize(
    "signal, attributes, expect_requests",
    [
        (GPC, " data-respect-dnt", False),
        (DNT, " data-respect-dnt", False),
        (GPC, "", True),
        (None, " data-respect-dnt", True),
    ],
    ids=["gpc-respected", "dnt-respected", "gpc-not-asked-for", "respected-but-not-sent"],
)
def test_do_not_track_and_global_privacy_control_stop_every_request_when_the_site_respects_them(
    browser, host_site, pixel, signal, attributes, expect_requests
):
    tab = open_tab(browser, init_script=signal)
    try:
        # The page's load event waits for the async script, so by then it has run (or decided not to).
        tab.page.goto(
            host_site.page(
                "/",
                head=snippet(pixel, attributes),
                body='<form action="/"><input name="email" value="dnt@example.com"><button>Go</button></form>',
            )
        )
        tab.page.evaluate("cursive('identify', {email: 'dnt@example.com'}); history.pushState({}, '', '/next')")
        tab.page.click("button")
        # Half a second without any request: whatever the submit or the navigation would send has been sent.
        tab.page.wait_for_load_state("networkidle")
        if expect_requests:
            stored(pixel, "form")
            assert tab.beacons
        else:
            assert tab.beacons == []
            assert not Event.objects.filter(pixel_id=pixel.pk).exists()
        assert tab.problems == []
    finally:
        close_tab(tab)


def test_engaged_time_is_sent_when_the_page_is_hidden(tab, host_site, pixel):
    url = host_site.page("/article", head=snippet(pixel))
    started = time.monotonic()
    loaded(tab, url)
    tab.page.wait_for_timeout(200)
    tab.page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    (engagement,) = stored(pixel, "engagement")
    assert engagement.url == url
    assert 200 <= engagement.engaged_ms <= (time.monotonic() - started) * 1000
    # Time spent hidden does not count; when the page is shown and hidden again, only the new time is sent.
    tab.page.wait_for_timeout(300)
    tab.page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    tab.page.wait_for_timeout(50)
    tab.page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    assert 50 <= stored(pixel, "engagement", 2)[1].engaged_ms < 300
    assert tab.problems == []


def test_the_host_page_console_stays_clean_even_when_the_beacon_is_unreachable(tab, host_site, pixel, live_server):
    tab.page.route("**/p/collect", lambda route: route.abort())
    url = host_site.page("/", head=snippet(pixel), body='<form action="/"><input type="email" value="a@b.example"></form>')
    loaded(tab, url)
    tab.page.evaluate(
        "cursive('identify', null); cursive('track'); cursive('identify', {email: 'x@y.example', loop: window});"
        "history.pushState({}, '', '/elsewhere'); document.querySelector('form').requestSubmit()"
    )
    tab.page.wait_for_load_state("load")
    assert tab.beacons
    # The browser itself reports each refused request; nothing else may appear, above all no script error.
    refused = f"error: Failed to load resource: net::ERR_FAILED at {live_server.url}/p/collect"
    assert tab.problems and set(tab.problems) == {refused}


@pytest.mark.parametrize(
    "browser_quirk",
    [
        "delete window.fetch",
        "window.fetch = () => Promise.reject(new TypeError('Failed to fetch'))",
    ],
    ids=["no-fetch", "fetch-refused"],
)
def test_without_a_working_fetch_the_events_go_by_send_beacon(browser, host_site, pixel, browser_quirk):
    tab = open_tab(browser, init_script=browser_quirk)
    try:
        loaded(tab, host_site.page("/", head=snippet(pixel)))
        (pageview,) = stored(pixel, "pageview")
        assert pageview.url == f"{host_site.url}/"
        assert tab.problems == []
    finally:
        close_tab(tab)


def test_without_document_current_script_the_script_finds_its_own_tag(browser, host_site, pixel):
    tab = open_tab(browser, init_script="Object.defineProperty(Document.prototype, 'currentScript', {get: () => null})")
    try:
        other_script = '<script data-site="not-this-one">window.other = 1</script>'
        loaded(tab, host_site.page("/", head=other_script + snippet(pixel)))
        assert stored(pixel, "pageview")
        assert tab.problems == []
    finally:
        close_tab(tab)
