import json

import pytest
from django.test import Client

from visitors.models import Event, Pixel, Visitor

from .conftest import beacon, make_pixel, pageview

pytestmark = pytest.mark.django_db

HEADLESS_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True)


def test_a_pageview_is_stored_and_visible_through_the_visitors_api(anonymous, tenant):
    pixel = make_pixel(tenant)
    assert pixel.status == Pixel.Status.WAITING
    response = beacon(
        anonymous,
        [
            pageview(pixel, url="https://example.com/", title="Home"),
            pageview(pixel, url="https://www.example.com/pricing"),
            {"site": pixel.site_key, "type": "engagement", "visitor": "visitor-1", "engaged_ms": 12_400},
        ],
    )
    assert response.status_code == 202
    assert not response.cookies

    pixel.refresh_from_db()
    assert pixel.status == Pixel.Status.ACTIVE and pixel.last_event_at is not None
    listed = tenant.api().get("/api/v1/visitors").json()["results"]
    assert len(listed) == 1
    visitor = listed[0]
    assert visitor["pageviews"] == 2 and visitor["engaged_seconds"] == 12
    assert visitor["last_url"] == "https://www.example.com/pricing"
    events = tenant.api().get(f"/api/v1/visitors/{visitor['id']}").json()["events"]
    assert [e["type"] for e in events] == ["engagement", "pageview", "pageview"]
    assert tenant.api().get(f"/api/v1/pixels/{pixel.pk}").json()["status"] == "active"


def test_a_returning_visitor_is_one_visitor_with_growing_totals(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, pageview(pixel, url="https://example.com/a"), content_type="application/json")
    beacon(anonymous, pageview(pixel, url="https://example.com/b"))
    visitor = Visitor.objects.get()
    assert visitor.pageviews == 2 and visitor.last_url == "https://example.com/b"
    assert visitor.last_seen >= visitor.first_seen


def test_one_insert_for_all_events_of_a_request(anonymous, tenant, django_assert_max_num_queries):
    pixel = make_pixel(tenant)
    beacon(anonymous, pageview(pixel, visitor="first"))  # the installation: its first hit also ticks onboarding
    with django_assert_max_num_queries(8):
        beacon(anonymous, [pageview(pixel, visitor=f"v{i}", url=f"https://example.com/{i}") for i in range(50)])
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 51
    assert Visitor.objects.filter(pixel=pixel).count() == 51


@pytest.mark.parametrize(
    ("origin", "url"),
    [
        ("https://evil.example", "https://example.com/"),
        ("https://notexample.com", "https://example.com/"),
        ("https://example.com.evil.example", "https://example.com/"),
        (None, "https://evil.example/"),
        (None, "not a url"),
    ],
)
def test_events_from_another_origin_are_not_stored(anonymous, tenant, origin, url):
    pixel = make_pixel(tenant)
    assert beacon(anonymous, pageview(pixel, url=url), origin=origin).status_code == 202
    assert not Event.objects.filter(pixel_id=pixel.pk).exists()
    assert not Visitor.objects.exists()
    pixel.refresh_from_db()
    assert pixel.status == Pixel.Status.WAITING


def test_subdomains_and_the_page_url_without_origin_are_accepted(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, pageview(pixel, visitor="a"), origin="https://shop.example.com:8443")
    beacon(anonymous, pageview(pixel, visitor="b", url="https://blog.example.com/post"), origin=None)
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 2


@pytest.mark.parametrize("user_agent", [GOOGLEBOT_UA, HEADLESS_UA, "python-requests/2.32.3", "curl/8.5.0", ""])
def test_bot_user_agents_are_not_stored(anonymous, tenant, user_agent):
    pixel = make_pixel(tenant)
    assert beacon(anonymous, pageview(pixel), user_agent=user_agent).status_code == 202
    assert not Event.objects.filter(pixel_id=pixel.pk).exists()


def test_unknown_site_key_is_dropped_quietly(anonymous, tenant):
    make_pixel(tenant)
    response = beacon(anonymous, {"site": "no-such-site", "type": "pageview", "visitor": "v", "url": "https://example.com/"})
    assert response.status_code == 202
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed"),
        (b'{"site": "\xff\xfe", "type": "pageview"}', "not UTF-8"),
        (b'"just a string"', "a string"),
        (b"[1, 2]", "not objects"),
        (b'{"type": "pageview"}', "no site"),
        (b'{"site": "k", "type": "explode"}', "unknown type"),
        (b'{"site": "k", "type": "pageview", "url": 5}', "url not a string"),
        (b'{"site": "k", "type": "engagement", "engaged_ms": "12"}', "engaged_ms not a number"),
        (b'{"site": "k", "type": "engagement", "engaged_ms": NaN}', "NaN"),
        (b'{"site": "k", "type": "identify", "traits": []}', "traits not an object"),
        (b'{"site": "k\\u0000", "type": "pageview"}', "NUL"),
        (b'{"site": "k", "type": "pageview", "title": "\\ud800"}', "lone surrogate"),
        (b"[" * 5000 + b"]" * 5000, "deep nesting"),
        (b"", "empty body"),
    ],
)
def test_bad_bodies_are_400_with_the_error_shape_and_the_next_good_event_is_stored(anonymous, tenant, body, reason):
    pixel = make_pixel(tenant)
    response = beacon(anonymous, body, raw=True)
    assert response.status_code == 400, reason
    assert response.json()["error"]["code"] == "invalid_beacon"
    assert response.json()["error"]["message"]
    assert beacon(anonymous, pageview(pixel)).status_code == 202
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 1


def test_an_array_of_more_than_50_events_is_400(anonymous, tenant):
    pixel = make_pixel(tenant)
    response = beacon(anonymous, [pageview(pixel, visitor=f"v{i}") for i in range(51)])
    assert response.status_code == 400
    assert "50" in response.json()["error"]["message"]
    assert not Event.objects.exists()


def test_a_body_over_64_kb_is_413_by_its_length_or_its_header_and_the_next_event_is_stored(anonymous, tenant):
    pixel = make_pixel(tenant)
    big = json.dumps(pageview(pixel, title="x" * 70_000))
    response = beacon(anonymous, big, raw=True)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    lying = anonymous.generic(
        "POST", "/p/collect", b"{}", content_type="text/plain", HTTP_USER_AGENT="Mozilla/5.0", CONTENT_LENGTH="99999999"
    )
    assert lying.status_code == 413
    assert beacon(anonymous, pageview(pixel)).status_code == 202
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 1


def test_a_site_flooding_past_its_rate_has_the_excess_dropped_still_202(anonymous, tenant, settings):
    settings.PIXEL_EVENTS_PER_SECOND_PER_SITE = 30
    pixel = make_pixel(tenant)
    answers = [beacon(anonymous, [pageview(pixel, visitor=f"v{i}") for i in range(20)]).status_code for _ in range(3)]
    assert answers == [202, 202, 202]
    stored = Event.objects.filter(pixel_id=pixel.pk).count()
    # 30 tokens to start with; the few milliseconds the requests take refill at most a handful.
    assert 30 <= stored < 60


def test_get_is_not_allowed(anonymous):
    assert anonymous.get("/p/collect").status_code == 405


@pytest.mark.parametrize(
    ("content_type", "body", "extra"),
    [
        ("application/x-www-form-urlencoded", b"site=k&type=pageview", {}),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xyz--\r\n", {}),
        ("multipart/form-data", b"garbage", {}),
        ("text/plain", b"{}", {"CONTENT_LENGTH": "abc"}),
        ("text/plain", b"{}", {"CONTENT_LENGTH": "-5"}),
        ("text/plain", b'{"site": "k", "type": "pageview", "url": "http://[::1"}', {}),
    ],
)
def test_odd_requests_are_never_a_server_error(anonymous, tenant, content_type, body, extra):
    make_pixel(tenant)
    response = anonymous.generic("POST", "/p/collect", body, content_type=content_type, HTTP_USER_AGENT="Mozilla/5.0", **extra)
    assert response.status_code in (202, 400, 413)
    assert not Event.objects.exists()
