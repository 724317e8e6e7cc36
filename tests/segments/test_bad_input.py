"""Hole 10 on segments: a daily cap or a per-day count that is no number is a message or a 400, never a 500."""

import pytest

from segments.models import Segment, SegmentSettings
from segments.services import segment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


@pytest.mark.parametrize(
    "cap",
    ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-inf", "1e20", "1e400", "abc", "999999999999999999999999999999", "1000000000000"],
)
def test_a_daily_cap_that_is_no_storable_number_is_refused(browser, tenant, cap):
    response = browser.post(
        "/segments/settings/", {"auto_pull_daily_credit_cap": cap}, HTTP_REFERER="http://testserver/segments/"
    )
    assert response.status_code == 302
    page = browser.get(response.url).content.decode()
    assert "Daily cap for automatic pulls saved." not in page
    assert not SegmentSettings.objects.filter(workspace=tenant.workspace).exclude(auto_pull_daily_credit_cap=0).exists()


def test_the_largest_storable_daily_cap_is_saved(browser, tenant):
    browser.post("/segments/settings/", {"auto_pull_daily_credit_cap": "999999999999.99"})
    assert str(SegmentSettings.objects.get(workspace=tenant.workspace).auto_pull_daily_credit_cap) == "999999999999.99"


@pytest.mark.parametrize("per_day", ["²", "NaN", "1e20", "99999999999999999999999"])
def test_an_autosaved_per_day_count_that_is_no_count_is_not_saved(browser, tenant, per_day):
    segment = segment_create(workspace=tenant.workspace, name="Texas", filters={}, created_by=tenant.user)
    response = browser.post(
        f"/segments/{segment.pk}/autosave/", {"name": "Texas", "auto_pull_per_day": per_day}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert Segment.objects.get(pk=segment.pk).auto_pull_per_day == segment.auto_pull_per_day


@pytest.mark.parametrize("per_day", ["NaN", "1e20", 1e20, "Infinity", 10**30, "²"])
def test_the_api_refuses_a_per_day_count_that_is_no_count(tenant, per_day):
    response = tenant.api().post("/api/v1/segments", {"name": "Texas", "auto_pull_per_day": per_day}, format="json")
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_the_api_refuses_non_standard_json_numbers(tenant, literal):
    body = '{"name": "Texas", "auto_pull_per_day": ' + literal + "}"
    response = tenant.api().post("/api/v1/segments", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
