"""The Pixels pages and "Who's on your site": rendering, filters, paging, the live partials, tenancy."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Company, Lead
from leads.services import ideal_customer_profile_update, lead_create
from visitors.models import Event, Pixel, Visitor
from visitors.services import events_record

from .conftest import make_pixel, make_visitor

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def identify(visitor, **fields):
    """Identification is built elsewhere (visitors.identify); until then tests set its fields on the row."""
    Visitor.objects.filter(pk=visitor.pk).update(identified_at=timezone.now(), **fields)
    visitor.refresh_from_db()
    return visitor


def record(pixel, visitor_key, url, kind="pageview"):
    event = {"type": kind, "visitor": visitor_key, "url": url, "referrer": "", "title": "", "name": "", "engaged_ms": None}
    events_record(events=[(pixel.pk, event)])


# --- Pixels -------------------------------------------------------------------------------------------------


def test_pixels_page_renders_empty_with_the_add_form(browser):
    page = browser.get("/pixels/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "No pixel yet" in body and "Add website pixel" in body
    assert 'href="/pixels/"' in body  # the nav link


def test_adding_a_pixel_from_the_page_goes_to_its_install_page(browser, tenant):
    response = browser.post("/pixels/", {"name": "Main site", "domain": " WWW.Example.com "})
    pixel = Pixel.objects.get(workspace=tenant.workspace)
    assert response.status_code == 302 and response["Location"] == f"/pixels/{pixel.pk}/"
    assert pixel.domain == "www.example.com"
    page = browser.get(response["Location"]).content.decode()
    assert pixel.site_key in page and "Copy" in page
    for guide in ("Plain HTML", "WordPress", "Shopify", "Google Tag Manager"):
        assert guide in page
    assert 'data-testid="pixel-status">waiting' in page
    listing = browser.get("/pixels/").content.decode()
    assert "Main site" in listing and "no event yet" in listing


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("https://example.com/path", "&#x27;https://example.com/path&#x27; is not a host name"),
        ("exa mple.com", "&#x27;exa mple.com&#x27; is not a host name"),
        ("", "This field is required"),
    ],
)
def test_an_invalid_domain_is_shown_on_the_form(browser, domain, message):
    response = browser.post("/pixels/", {"name": "Site", "domain": domain})
    assert response.status_code == 200
    assert f'<ul class="errors"><li>{message}' in response.content.decode()
    assert not Pixel.objects.exists()


def test_the_three_a_day_limit_is_shared_by_the_page_and_the_api(browser, tenant):
    api = tenant.api()
    assert api.post("/api/v1/pixels", {"name": "A", "domain": "a.example"}, format="json").status_code == 201
    assert browser.post("/pixels/", {"name": "B", "domain": "b.example"}).status_code == 302
    assert api.post("/api/v1/pixels", {"name": "C", "domain": "c.example"}, format="json").status_code == 201
    refused = browser.post("/pixels/", {"name": "D", "domain": "d.example"})
    assert refused.status_code == 429
    assert refused["X-RateLimit-Limit"] == "3" and refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["Retry-After"]) >= 1
    body = refused.content.decode()
    assert "3 pixels a day" in body and 'value="d.example"' in body  # the form keeps what was typed
    api_refused = api.post("/api/v1/pixels", {"name": "E", "domain": "e.example"}, format="json")
    assert api_refused.status_code == 429 and api_refused.json()["error"]["code"] == "rate_limited"
    assert Pixel.objects.filter(workspace=tenant.workspace).count() == 3


def test_install_check_partial_is_waiting_then_active_after_an_event(browser, tenant):
    pixel = make_pixel(tenant)
    before = browser.get(f"/pixels/{pixel.pk}/status/", **HTMX)
    assert before.status_code == 200
    assert 'data-testid="pixel-status">waiting' in before.content.decode()
    assert 'hx-trigger="every 5s"' in before.content.decode()
    make_visitor(pixel)
    after = browser.get(f"/pixels/{pixel.pk}/status/", **HTMX).content.decode()
    assert 'data-testid="pixel-status">active' in after
    assert "last event" in after and "ago" in after or "now" in after
    assert 'data-testid="pixel-status">active' in browser.get("/pixels/").content.decode()


def test_test_pageview_check_finds_the_event_carrying_the_token(browser, tenant):
    pixel = make_pixel(tenant)
    page = browser.get(f"/pixels/{pixel.pk}/").content.decode()
    assert 'value="https://example.com/"' in page and "cursive_test=" in page
    token = "Tok3n-abcdefgh"
    waiting = browser.get(f"/pixels/{pixel.pk}/test-check/?token={token}", **HTMX).content.decode()
    assert "Looking for the test pageview" in waiting and "started=" in waiting and 'hx-trigger="every 2s"' in waiting
    record(pixel, "tester", f"https://www.example.com/pricing?utm=x&cursive_test={token}")
    found = browser.get(f"/pixels/{pixel.pk}/test-check/?token={token}", **HTMX).content.decode()
    assert 'data-testid="test-found"' in found
    assert f"https://www.example.com/pricing?utm=x&amp;cursive_test={token}" in found
    assert "every 2s" not in found  # found: the polling stops


def test_test_pageview_check_ignores_other_tokens_other_pixels_and_old_events(browser, tenant, other_tenant):
    pixel = make_pixel(tenant)
    theirs = make_pixel(other_tenant)
    token = "Tok3n-abcdefgh"
    record(pixel, "a", "https://example.com/?cursive_test=another-token")
    record(theirs, "b", f"https://example.com/?cursive_test={token}")
    record(pixel, "c", f"https://example.com/old?cursive_test={token}")
    Event.objects.filter(pixel_id=pixel.pk, url__contains="/old").update(received_at=timezone.now() - dt.timedelta(minutes=16))
    started = int(timezone.now().timestamp()) - 61
    body = browser.get(f"/pixels/{pixel.pk}/test-check/?token={token}&started={started}", **HTMX).content.decode()
    assert 'data-testid="test-found"' not in body
    # After a minute it says what to check, and keeps looking.
    assert 'data-testid="test-advice"' in body and "every 2s" in body
    for advice in ("&lt;head&gt;", "example.com", "blocker", "script-src", "connect-src"):
        assert advice in body
    gave_up = browser.get(f"/pixels/{pixel.pk}/test-check/?token={token}&started={started - 300}", **HTMX).content.decode()
    assert 'data-testid="test-advice"' in gave_up and "every 2s" not in gave_up


def test_test_pageview_check_refuses_a_malformed_token(browser, tenant):
    pixel = make_pixel(tenant)
    response = browser.get(f"/pixels/{pixel.pk}/test-check/?token=%25", **HTMX)
    assert response["HX-Reswap"] == "none"


def test_rename_and_change_domain(browser, tenant):
    pixel = make_pixel(tenant)
    make_visitor(pixel)
    response = browser.post(f"/pixels/{pixel.pk}/", {"edit-name": "Shop", "edit-domain": "shop.example"})
    assert response.status_code == 302
    pixel.refresh_from_db()
    assert (pixel.name, pixel.domain, pixel.status) == ("Shop", "shop.example", "waiting")
    bad = browser.post(f"/pixels/{pixel.pk}/", {"edit-name": "Shop", "edit-domain": "not a domain"})
    assert bad.status_code == 200 and "is not a host name" in bad.content.decode()


def test_delete_asks_for_confirmation_and_removes_events_and_visitors(browser, tenant):
    pixel = make_pixel(tenant)
    kept = make_pixel(tenant, domain="kept.example")
    make_visitor(pixel)
    make_visitor(kept, url="https://kept.example/")
    page = browser.get(f"/pixels/{pixel.pk}/").content.decode()
    assert 'data-confirm="Delete “Main site” with all its visitors and events?"' in page
    assert browser.get(f"/pixels/{pixel.pk}/delete/").status_code == 405
    response = browser.post(f"/pixels/{pixel.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/pixels/"
    assert not Pixel.objects.filter(pk=pixel.pk).exists()
    assert not Visitor.objects.filter(pixel_id=pixel.pk).exists()
    assert not Event.objects.filter(pixel_id=pixel.pk).exists()
    assert Event.objects.filter(pixel_id=kept.pk).count() == 1 and kept.visitors.count() == 1
    assert "deleted" in browser.get("/pixels/").content.decode()


# --- Visitors -----------------------------------------------------------------------------------------------


def test_visitors_page_without_a_pixel_links_to_adding_one(browser):
    body = browser.get("/visitors/").content.decode()
    assert 'data-testid="visitors-empty"' in body and "Install the website pixel first" in body
    assert 'href="/pixels/"' in body


def test_visitors_page_with_a_pixel_but_no_visitor_links_to_its_install_guide(browser, tenant):
    pixel = make_pixel(tenant)
    body = browser.get("/visitors/").content.decode()
    assert "No visitors yet" in body and f'href="/pixels/{pixel.pk}/#install"' in body


def test_visitors_list_shows_company_person_how_pages_and_fit(browser, tenant):
    pixel = make_pixel(tenant)
    anonymous = make_visitor(pixel, url="https://example.com/blog")
    by_ip = identify(make_visitor(pixel), company_name="Initech", company_domain="initech.example", identified_by="ip")
    lead = lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "ada@acme.example"})
    person = identify(
        make_visitor(pixel, url="https://example.com/pricing"),
        email="ada@acme.example",
        first_name="Ada",
        last_name="Lovelace",
        title="CTO",
        person_company_name="Acme",
        identified_by="form",
        lead=lead,
    )
    Company.objects.create(name="Initech", domain="initech.example", size="51-200", industry="Software")
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=["Banking"])
    body = browser.get("/visitors/").content.decode()
    assert body.count('data-testid="visitor-row"') == 3
    # Latest activity first.
    assert body.index(f"visitor-{person.pk}") < body.index(f"visitor-{by_ip.pk}") < body.index(f"visitor-{anonymous.pk}")
    assert "Initech" in body and "via IP range" in body
    assert "Ada Lovelace" in body and "CTO" in body and "ada@acme.example" in body and "identified by form submission" in body
    assert "Anonymous visitor" in body and "/blog" in body
    assert f'{lead.score}</span> <span class="muted">lead score' in body
    assert "partly" in body and "size ✓" in body and "industry ✗" in body


def test_filters_identified_company_page_period_and_pixel(browser, tenant):
    pixel = make_pixel(tenant)
    shop = make_pixel(tenant, domain="shop.example", name="Shop")
    anonymous = make_visitor(pixel, url="https://example.com/blog")
    named = identify(make_visitor(pixel, url="https://example.com/pricing"), company_name="Initech", identified_by="ip")
    record(pixel, named.key, "https://example.com/careers")
    old = make_visitor(pixel, url="https://example.com/pricing")
    Visitor.objects.filter(pk=old.pk).update(last_seen=timezone.now() - dt.timedelta(days=10))
    on_shop = make_visitor(shop, url="https://shop.example/cart")

    def rows(query):
        body = browser.get(f"/visitors/?{query}").content.decode()
        return {pk for pk in (anonymous.pk, named.pk, old.pk, on_shop.pk) if f'id="visitor-{pk}"' in body}

    assert rows("") == {anonymous.pk, named.pk, on_shop.pk}
    assert rows("period=30d") == {anonymous.pk, named.pk, old.pk, on_shop.pk}
    assert rows("period=today") == {anonymous.pk, named.pk, on_shop.pk}
    assert rows("identified=1") == {named.pk}
    assert rows("company=init") == {named.pk}
    assert rows("page=pricing") == {named.pk}
    assert rows("page=PRICING&period=30d") == {named.pk, old.pk}
    assert rows("page=careers") == {named.pk}
    assert rows(f"pixel={shop.pk}") == {on_shop.pk}
    assert rows("period=forever&pixel=abc") == {anonymous.pk, named.pk, on_shop.pk}
    assert "No visitors match these filters" in browser.get("/visitors/?company=nobody").content.decode()


def test_page_contains_looks_only_at_events_in_the_period(browser, tenant):
    pixel = make_pixel(tenant)
    visitor = make_visitor(pixel, url="https://example.com/pricing")
    Event.objects.filter(visitor_id=visitor.pk).update(received_at=timezone.now() - dt.timedelta(days=2))
    record(pixel, visitor.key, "https://example.com/home")
    assert f'id="visitor-{visitor.pk}"' not in browser.get("/visitors/?page=pricing&period=today").content.decode()
    assert f'id="visitor-{visitor.pk}"' in browser.get("/visitors/?page=pricing&period=7d").content.decode()


def test_load_more_pages_through_and_the_live_poll_keeps_the_rows_shown(browser, tenant, monkeypatch):
    from visitors import views

    monkeypatch.setattr(views, "VISITORS_PAGE_SIZE", 2)
    pixel = make_pixel(tenant)
    visitors = [make_visitor(pixel) for _ in range(5)]
    first = browser.get("/visitors/").content.decode()
    assert first.count('data-testid="visitor-row"') == 2 and "Load more" in first
    assert 'name="shown" value="2"' in first
    more_url = first.split('id="visitors-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert "shown=2" in more_url and "cursor=" in more_url
    second = browser.get(more_url, **HTMX).content.decode()
    assert second.count('data-testid="visitor-row"') == 2
    assert 'id="visitors-shown" name="shown" value="4" hx-swap-oob="true"' in second
    assert f'id="visitor-{visitors[2].pk}"' in second and f'id="visitor-{visitors[1].pk}"' in second
    # The live poll re-renders as many rows as are on screen, with the filters of the form.
    poll = browser.get("/visitors/?shown=4", HTTP_HX_TARGET="visitor-results", HTTP_HX_TRIGGER="visitor-poll", **HTMX)
    body = poll.content.decode()
    assert body.strip().startswith("<section") and body.count('data-testid="visitor-row"') == 4
    assert "HX-Push-Url" not in poll  # polling fills no history
    changed = browser.get("/visitors/?identified=1", HTTP_HX_TARGET="visitor-results", HTTP_HX_TRIGGER="visitor-filters", **HTMX)
    assert changed["HX-Push-Url"] == "/visitors/?identified=1"


def test_the_results_poll_every_few_seconds_and_a_new_visitor_appears(browser, tenant):
    pixel = make_pixel(tenant)
    make_visitor(pixel)
    page = browser.get("/visitors/").content.decode()
    assert 'hx-trigger="every 5s"' in page and "data-live" in page and 'hx-include="#visitor-filters, #visitors-shown"' in page
    newcomer = make_visitor(pixel, url="https://example.com/new")
    poll = browser.get("/visitors/", HTTP_HX_TARGET="visitor-results", HTTP_HX_TRIGGER="visitor-poll", **HTMX)
    assert f'id="visitor-{newcomer.pk}"' in poll.content.decode()


def test_visitor_drawer_shows_the_timeline_and_actions(browser, tenant):
    pixel = make_pixel(tenant)
    lead = lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "ada@acme.example"})
    visitor = identify(
        make_visitor(pixel, url="https://example.com/"),
        email="ada@acme.example",
        first_name="Ada",
        company_name="Acme Inc",
        company_domain="acme.example",
        identified_by="identify",
        lead=lead,
    )
    record(pixel, visitor.key, "https://example.com/pricing")
    drawer = browser.get(f"/visitors/{visitor.pk}/", **HTMX)
    body = drawer.content.decode()
    assert 'data-testid="visitor-drawer"' in body and "<html" not in body
    assert body.index("https://example.com/pricing") < body.index("https://example.com/<")  # newest first
    assert f'href="/leads/{lead.pk}/"' in body
    assert 'href="/search/?company_domain=acme.example"' in body and "Find people at Acme Inc" in body
    full = browser.get(f"/visitors/{visitor.pk}/").content.decode()
    assert "<html" in full and 'data-testid="timeline"' in full


def test_tagging_the_visitors_lead(browser, tenant):
    pixel = make_pixel(tenant)
    lead = lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "ada@acme.example"})
    visitor = identify(make_visitor(pixel), email="ada@acme.example", identified_by="form", lead=lead)
    response = browser.post(f"/visitors/{visitor.pk}/tag/", {"tags": "Hot, demo"}, **HTMX)
    assert response.status_code == 200 and 'data-testid="visitor-drawer"' in response.content.decode()
    assert "Lead tagged." in response.content.decode()  # the toast, out of band
    lead.refresh_from_db()
    assert lead.tags == ["demo", "hot"]
    assert browser.post(f"/visitors/{visitor.pk}/tag/", {"tags": "x"}).status_code == 302


def test_tagging_an_anonymous_visitor_is_refused_with_a_message(browser, tenant):
    visitor = make_visitor(make_pixel(tenant))
    response = browser.post(f"/visitors/{visitor.pk}/tag/", {"tags": "x"}, **HTMX)
    assert response["HX-Reswap"] == "none"
    assert "not a lead yet" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/pixels/{pixel}/",
        "/pixels/{pixel}/status/",
        "/pixels/{pixel}/test-check/?token=abcdefghijkl",
        "/visitors/{visitor}/",
        "/visitors/?pixel={pixel}",
    ],
)
def test_another_workspaces_pixel_or_visitor_is_not_found_or_not_shown(browser, other_tenant, path):
    theirs = make_pixel(other_tenant)
    visitor = make_visitor(theirs)
    url = path.format(pixel=theirs.pk, visitor=visitor.pk)
    for headers in ({}, HTMX):
        response = browser.get(url, **headers)
        if url.startswith("/visitors/?"):
            assert response.status_code == 200 and f"visitor-{visitor.pk}" not in response.content.decode()
        else:
            assert response.status_code == 404, url


def test_another_workspaces_pixel_cannot_be_changed_deleted_or_its_visitor_tagged(browser, other_tenant):
    theirs = make_pixel(other_tenant)
    visitor = make_visitor(theirs)
    assert browser.post(f"/pixels/{theirs.pk}/", {"edit-name": "Mine", "edit-domain": "x.example"}).status_code == 404
    assert browser.post(f"/pixels/{theirs.pk}/delete/").status_code == 404
    assert browser.post(f"/visitors/{visitor.pk}/tag/", {"tags": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Main site"


def test_the_visitor_list_costs_the_same_queries_for_more_visitors(browser, tenant, django_assert_max_num_queries):
    pixel = make_pixel(tenant)
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=[])

    def add(n):
        for _ in range(n):
            lead = lead_create(
                workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": f"p{Visitor.objects.count()}@x.example"}
            )
            identify(make_visitor(pixel), company_name="Initech", company_domain="initech.example", identified_by="ip", lead=lead)
            identify(make_visitor(pixel), company_name="Initech", company_domain="initech.example", identified_by="ip")

    add(1)
    with CaptureQueriesContext(connection) as few:
        browser.get("/visitors/?company=init")
    add(10)
    with django_assert_max_num_queries(len(few)):
        body = browser.get("/visitors/?company=init").content.decode()
    assert body.count('data-testid="visitor-row"') == 22
