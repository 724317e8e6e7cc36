import json

import pytest

from leads.models import Lead
from segments.models import Segment
from segments.services import segment_create
from tests.marketplace.conftest import fund

from .conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    client.force_login(tenant.user)
    return client


def test_search_page_counts_live_and_pushes_the_url(browser, people):
    make_person(industry="Fintech", state="NY")
    page = browser.get("/search/").content.decode()
    assert 'data-testid="search-count">31<' in page and page.count('data-testid="sample-row"') == 10
    assert "p1@co1" not in page, "contact details are masked"
    partial = browser.get("/search/?industry=Fintech&title=&state=NY", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-results")
    assert 'data-testid="search-count">1<' in partial.content.decode() and b"<html" not in partial.content
    assert partial.headers["HX-Push-Url"] == "/search/?industry=Fintech&state=NY"


def test_bad_filters_explain_themselves(browser, people):
    page = browser.get("/search/?company_size=huge").content.decode()
    assert "Company size: " in page and "not a valid choice" in page and "company_size:" not in page


def test_a_bad_filter_is_left_out_and_the_others_still_count(browser, people):
    make_person(industry="Fintech", score=95)
    response = browser.get("/search/?industry=Fintech&score_min=500")
    page = response.content.decode()
    assert 'data-testid="search-count">1<' in page, "the industry filter still applies"
    assert response.context["errors"] == {"score_min": ["Minimum quality score: Ensure this value is less than or equal to 100."]}


def test_save_search_as_segment_then_autosave_and_pull(browser, tenant, people):
    fund(tenant.workspace, 50)
    filters = json.dumps({"industry": ["SaaS"], "title": "vp sales"})
    response = browser.post("/search/save/", {"name": "SaaS VPs", "filters": filters})
    segment = Segment.objects.get()
    assert response.url == f"/segments/{segment.pk}/"
    assert segment.last_count == 30 and segment.filters == {"industry": ["SaaS"], "title": "vp sales"}
    detail = browser.get(response.url).content.decode()
    assert 'value="SaaS" checked' in detail and 'value="vp sales"' in detail
    saved = browser.post(
        f"/segments/{segment.pk}/autosave/",
        {"name": "Texas SaaS VPs", "description": "ICP", "industry": "SaaS", "state": "TX", "title": "vp"},
        HTTP_HX_REQUEST="true",
    )
    assert b"Saved" in saved.content
    assert b'<h1 id="segment-name" hx-swap-oob="true">Texas SaaS VPs</h1>' in saved.content, "the heading follows"
    segment.refresh_from_db()
    assert segment.name == "Texas SaaS VPs" and segment.filters == {"industry": ["SaaS"], "state": ["TX"], "title": "vp"}
    bad = browser.post(f"/segments/{segment.pk}/autosave/", {"name": "", "industry": "SaaS"}, HTTP_HX_REQUEST="true")
    assert b"Not saved" in bad.content
    pulled = browser.post(f"/segments/{segment.pk}/run/", {"mode": "pull", "limit": "25"}, follow=True)
    assert b"Pulled 25 new leads" in pulled.content
    assert Lead.objects.filter(workspace=tenant.workspace, source="database").count() == 25
    assert b'data-testid="nav-balance"' in pulled.content and b"25.00" in pulled.content


def test_segment_list_actions(browser, tenant, people):
    browser.post("/search/save/", {"name": "One", "filters": "{}"})
    segment = Segment.objects.get()
    listing = browser.get("/segments/").content.decode()
    assert "One</strong>" in listing and '<span class="muted">never</span>' not in listing, "saving ran a count"
    browser.post(f"/segments/{segment.pk}/action/", {"action": "duplicate"})
    assert Segment.objects.filter(name="One (copy)").exists()
    browser.post(f"/segments/{segment.pk}/action/", {"action": "archived"})
    assert "One (copy)" in browser.get("/segments/").content.decode()
    assert "One</strong>" in browser.get("/segments/?status=archived").content.decode()
    refused = browser.post(f"/segments/{segment.pk}/run/", {"mode": "pull", "limit": "5"}, follow=True)
    assert b"make it active to pull" in refused.content
    browser.post(f"/segments/{segment.pk}/action/", {"action": "delete"})
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_empty_states(browser):
    assert b"No active segments" in browser.get("/segments/").content
    assert b"The lead database has no people yet" in browser.get("/search/").content
    assert b"Nobody matches these filters" in browser.get("/search/?industry=Fintech").content


def test_auto_pull_within_the_daily_cap(tenant, people):
    from segments.services import segment_create, segment_settings_update, segment_update, segments_auto_pull

    fund(tenant.workspace, 100)
    segment = segment_create(workspace=tenant.workspace, name="Auto", filters={})
    segment_update(workspace=tenant.workspace, segment_id=segment.pk, auto_pull_per_day=10)
    assert segments_auto_pull() == 0, "no cap set: automatic pulls are off"
    segment_settings_update(workspace=tenant.workspace, auto_pull_daily_credit_cap="15")
    assert segments_auto_pull() == 10
    assert segments_auto_pull() == 5, "the cap leaves room for 5 more today"
    assert segments_auto_pull() == 0
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 15


def test_daily_refresh_updates_counts(tenant, people):
    from segments.services import segment_create, segments_refresh_counts

    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    assert segments_refresh_counts() == 1
    segment.refresh_from_db()
    assert segment.last_count == 30


def test_an_unknown_status_tab_goes_back_to_the_list(browser):
    response = browser.get("/segments/?status=bogus")
    assert response.status_code == 302 and response.url == "/segments/"


def test_pausing_from_the_segment_page_stays_on_it(browser, tenant):
    segment = segment_create(workspace=tenant.workspace, name="Stay", filters={})
    paused = browser.post(f"/segments/{segment.pk}/action/", {"action": "paused", "next": f"/segments/{segment.pk}/"})
    assert paused.url == f"/segments/{segment.pk}/"
    offsite = browser.post(f"/segments/{segment.pk}/action/", {"action": "active", "next": "https://evil.test/"})
    assert offsite.url == "/segments/"


@pytest.mark.parametrize("referer", ["https://evil.example/phish", "//evil.example/phish", "http://testserver@evil.example/"])
def test_saving_bad_filters_never_redirects_to_another_site(browser, referer):
    response = browser.post("/search/save/", {"name": "Bad", "filters": "{not json"}, HTTP_REFERER=referer)
    assert response.status_code == 302 and response.url == "/search/"
    assert not Segment.objects.exists()


def test_saving_bad_filters_goes_back_to_the_search_it_came_from(browser):
    response = browser.post(
        "/search/save/",
        {"name": "Bad", "filters": json.dumps({"colour": ["red"]})},
        HTTP_REFERER="http://testserver/search/?industry=SaaS",
    )
    assert response.url == "http://testserver/search/?industry=SaaS"


def test_lead_search_narrows_to_a_company_by_domain(browser, people):
    """The Visitors drawer's "Find people at <company>" opens Lead Search with `company_domain`."""
    ada = make_person(industry="Fintech")
    make_person(industry="Fintech")
    page = browser.get(f"/search/?company_domain={ada.company_domain.upper()}")
    assert 'data-testid="search-count">1<' in page.content.decode()
    assert f'value="{ada.company_domain.upper()}"' in page.content.decode()
    assert page.context["filters"] == {"company_domain": [ada.company_domain.upper()]}
    from segments.services import search_count

    assert search_count(filters={"company_domain": [ada.company_domain, "nobody.example"]}) == 1
