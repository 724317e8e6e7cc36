"""The score drawer reads as arithmetic that adds up: each part "points of possible", each factor the sum of its
parts, the total the sum of the factors and the lead's score; a website-pixel lead's engagement is described by what
the pixel reports (pages viewed and the time pages were open and in view)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cursive.jobs import job_run
from cursive.models import Job
from leads.models import Lead
from leads.scoring import score_factors, score_total
from leads.selectors import ideal_customer_profile
from leads.services import ideal_customer_profile_update, lead_create, leads_rescore
from tests.visitors.conftest import beacon, make_pixel, pageview
from visitors import tasks

pytestmark = pytest.mark.django_db


def _lead(tenant, **fields):
    fields.setdefault("email", f"x{Lead.objects.count()}@lead.example")
    return lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data=fields)


def _set(lead, **fields):
    Lead.objects.filter(pk=lead.pk).update(**fields)
    leads_rescore(workspace=lead.workspace, lead_ids=[lead.pk])
    lead.refresh_from_db()
    return lead


def _drawer(client, tenant, lead) -> str:
    client.force_login(tenant.user)
    return client.get(f"/leads/{lead.pk}/", HTTP_HX_REQUEST="true").content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"email_status": "valid"},
        {"email_status": "valid", "phone_status": "valid", "pages_viewed": 2, "seconds_on_site": 61},
        {"pages_viewed": 40, "seconds_on_site": 10_000, "created_at_days": 20},
        {"phone_status": "valid", "created_at_days": 200},
    ],
)
def test_parts_sum_to_factors_and_factors_to_the_score(tenant, fields):
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=["SaaS"])
    days = fields.pop("created_at_days", 0)
    lead = _set(
        _lead(tenant, company_size="51-200", industry="Retail"), created_at=timezone.now() - timedelta(days=days), **fields
    )
    factors = score_factors(lead, ideal_customer_profile(workspace=tenant.workspace), timezone.now())
    assert sum(factor["max"] for factor in factors.values()) == 100
    for factor in factors.values():
        assert factor["points"] == sum(part["points"] for part in factor["parts"])
        assert factor["max"] == sum(part["max"] for part in factor["parts"])
        assert all(0 <= part["points"] <= part["max"] for part in factor["parts"])
    assert score_total(factors) == sum(factor["points"] for factor in factors.values()) == lead.score


def test_the_drawer_shows_earned_of_possible_and_the_sum(client, tenant):
    lead = _set(_lead(tenant), email_status="valid")
    text = _text(_drawer(client, tenant, lead))
    assert "Deliverability 20 of 30" in text
    assert "+20 of 20 Email verified" in text
    assert "+0 of 10 Phone not verified" in text
    assert "Recency 15 of 15 +15 of 15 Added today" in text
    assert "Total 20 + 0 + 0 + 15 = 35 of 100" in text
    assert lead.score == 35
    # No line promises points the lead did not earn.
    assert "+10." not in text and "phone verified +10" not in text.lower()


def test_a_pixel_lead_is_scored_on_what_the_pixel_reports(client, tenant):
    """A visitor views 3 pages, keeps them in view 95 s, then fills in a form: the lead's engagement is exactly that."""
    pixel = make_pixel(tenant)
    visitor = Client()
    beacon(visitor, [pageview(pixel), pageview(pixel), pageview(pixel)])
    beacon(visitor, [{**pageview(pixel), "type": "engagement", "engaged_ms": 95_000}])
    beacon(
        visitor,
        [{"site": pixel.site_key, "type": "identify", "visitor": "visitor-1", "traits": {"email": "eve@acme.example"}}],
    )
    for job in Job.objects.filter(func="visitors.tasks.visitors_identify", status=Job.Status.PENDING).order_by("pk"):
        assert job_run(job.pk) == "succeeded"
    tasks.visitors_engagement_sync()
    lead = Lead.objects.get(workspace=tenant.workspace)
    assert lead.source == Lead.Source.PIXEL and (lead.pages_viewed, lead.seconds_on_site) == (3, 95)

    factors = score_factors(lead, None, timezone.now())
    assert [part["points"] for part in factors["engagement"]["parts"]] == [9, 4]
    text = _text(_drawer(client, tenant, lead))
    assert "Engagement 13 of 30" in text
    assert "+9 of 15 3 pages viewed on your site (3 points a page)" in text
    assert "+4 of 15 1 min 35 s with your pages open and in view (1 point every 20 s)" in text
    assert f"= {lead.score} of 100" in text


def test_a_lead_the_pixel_never_saw_says_so(client, tenant):
    lead = _lead(tenant)
    text = _text(_drawer(client, tenant, lead))
    assert "Engagement 0 of 30" in text
    assert "Not seen on your site yet" in text
