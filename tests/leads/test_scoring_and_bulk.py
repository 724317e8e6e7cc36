import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead
from leads.scoring import score_factors, score_total
from leads.services import ideal_customer_profile_update, lead_create, leads_rescore

pytestmark = pytest.mark.django_db


def make(tenant, **data):
    data.setdefault("email", f"x{Lead.objects.count()}@lead.example")
    return lead_create(workspace=tenant.workspace, source=data.pop("source", Lead.Source.MANUAL), data=data)


def set_fields(lead, **fields):
    Lead.objects.filter(pk=lead.pk).update(**fields)
    leads_rescore(workspace=lead.workspace, lead_ids=[lead.pk])
    lead.refresh_from_db()
    return lead


def test_each_factor_and_the_cap(tenant):
    lead = make(tenant, company_size="51-200", industry="SaaS")
    assert lead.score == 15, "a new lead: recency only"
    assert set_fields(lead, email_status="valid").score == 35
    assert set_fields(lead, phone_status="valid").score == 45
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=[])
    leads_rescore(workspace=tenant.workspace)
    lead.refresh_from_db()
    assert lead.score == 57, "+12 company size fit"
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=["SaaS"])
    leads_rescore(workspace=tenant.workspace)
    lead.refresh_from_db()
    assert lead.score == 70, "+13 industry fit"
    # Engagement counts for any lead the pixel saw on the site, whatever its source; each half capped at 15.
    assert set_fields(lead, pages_viewed=2, seconds_on_site=60).score == 79
    assert set_fields(lead, source="pixel", pages_viewed=2, seconds_on_site=60).score == 79
    assert set_fields(lead, pages_viewed=100, seconds_on_site=10_000).score == 100, "capped at 100"


@pytest.mark.parametrize("days,points", [(0, 15), (7, 15), (8, 10), (30, 10), (31, 5), (90, 5), (91, 0), (400, 0)])
def test_recency(tenant, days, points):
    lead = make(tenant)
    lead = set_fields(lead, created_at=timezone.now() - timedelta(days=days, minutes=1))
    assert lead.score == points
    assert score_factors(lead, None, timezone.now())["recency"]["points"] == points


def test_python_factors_agree_with_the_sql_score(tenant):
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["1-10", "11-50"], industries=["Retail"])
    variants = [
        {"company_size": "1-10", "industry": "Retail"},
        {"company_size": "5001+", "industry": "SaaS"},
        {"company_size": "", "industry": ""},
        {"company_size": "11-50", "industry": "Retail"},
    ]
    leads = [make(tenant, **variant) for variant in variants]
    for lead, extra in zip(
        leads,
        [
            {"email_status": "valid"},
            {"source": "pixel", "pages_viewed": 3},
            {"phone_status": "valid", "created_at": timezone.now() - timedelta(days=20)},
            {"source": "pixel", "seconds_on_site": 95},
        ],
        strict=True,
    ):
        Lead.objects.filter(pk=lead.pk).update(**extra)
    leads_rescore(workspace=tenant.workspace)
    profile = tenant.workspace.ideal_customer_profile
    now = timezone.now()
    for lead in Lead.objects.filter(workspace=tenant.workspace):
        assert lead.score == score_total(score_factors(lead, profile, now)), lead.pk


def test_profile_change_rescores_in_the_background(tenant, django_capture_on_commit_callbacks):
    from cursive.jobs import job_run
    from cursive.models import Job

    lead = make(tenant, industry="SaaS")
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=[], industries=["SaaS"])
    lead.refresh_from_db()
    assert lead.score == 15, "not yet: the worker re-scores"
    job_run(Job.objects.get(func="leads.tasks.rescore_workspace").pk)
    lead.refresh_from_db()
    assert lead.score == 28


def test_nightly_rescore_is_scheduled_and_set_based(tenant, django_assert_max_num_queries):
    from django_q.models import Schedule

    from leads.services import leads_rescore_all

    assert Schedule.objects.filter(func="leads.services.leads_rescore_all").exists()
    leads = [make(tenant) for _i in range(30)]
    with django_assert_max_num_queries(4):
        assert leads_rescore_all() == 0, "scored on arrival: a night that moves nobody writes nothing"
    # Five leads cross the 7-day recency boundary overnight; only they are rewritten.
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[:5]]).update(created_at=timezone.now() - timedelta(days=9))
    # The moves are read first (to announce band changes), then written in one UPDATE, in a savepoint; one more
    # UPDATE recounts the workspace's score bands in the analytics rollup.
    with django_assert_max_num_queries(7):
        assert leads_rescore_all() == 5
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads[:5]]).values_list("score", flat=True)) == {
        leads[0].score - 5
    }


def test_bulk_api_tag_untag_status_delete_and_export(tenant, other_tenant):
    leads = [make(tenant, first_name=f"L{i}") for i in range(5)]
    theirs = make(other_tenant)
    api = tenant.api()
    ids = [lead.pk for lead in leads[:3]] + [theirs.pk]
    tagged = api.post("/api/v1/leads/bulk", {"action": "tag", "lead_ids": ids, "tags": ["Hot", "q4"]}, format="json")
    assert tagged.json() == {"action": "tag", "updated": 3}
    assert sorted(Lead.objects.get(pk=leads[0].pk).tags) == ["hot", "q4"]
    assert Lead.objects.get(pk=theirs.pk).tags == [], "another workspace's lead is never touched"
    api.post("/api/v1/leads/bulk", {"action": "tag", "lead_ids": ids, "tags": ["hot"]}, format="json")
    assert sorted(Lead.objects.get(pk=leads[0].pk).tags) == ["hot", "q4"], "no duplicate tags"
    api.post("/api/v1/leads/bulk", {"action": "untag", "lead_ids": ids, "tags": ["q4"]}, format="json")
    assert Lead.objects.get(pk=leads[0].pk).tags == ["hot"]
    status = api.post("/api/v1/leads/bulk", {"action": "set_status", "lead_ids": ids, "status": "qualified"}, format="json")
    assert status.json()["updated"] == 3
    export = api.post("/api/v1/leads/bulk", {"action": "export", "lead_ids": ids}, format="json")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) == 3 and {row["tags"] for row in rows} == {"hot"} and rows[0]["status"] == "qualified"
    deleted = api.post("/api/v1/leads/bulk", {"action": "delete", "lead_ids": ids}, format="json")
    assert deleted.json()["updated"] == 3 and Lead.objects.filter(workspace=tenant.workspace).count() == 2
    assert Lead.objects.filter(pk=theirs.pk).exists()


def test_bulk_api_validation(tenant):
    api = tenant.api()
    assert api.post("/api/v1/leads/bulk", {"action": "tag", "lead_ids": []}, format="json").status_code == 400
    assert api.post("/api/v1/leads/bulk", {"action": "paint", "lead_ids": [1]}, format="json").status_code == 400
    too_many = api.post("/api/v1/leads/bulk", {"action": "delete", "lead_ids": list(range(1, 1002))}, format="json")
    assert too_many.status_code == 400
    no_tags = api.post("/api/v1/leads/bulk", {"action": "tag", "lead_ids": [1]}, format="json")
    assert no_tags.status_code == 400 and "tags" in no_tags.json()["error"]["fields"]


def test_export_streams_with_filters_and_escapes(tenant):
    make(tenant, first_name="=cmd", industry="SaaS")
    make(tenant, first_name="Plain", industry="Retail")
    response = tenant.api().get("/api/v1/leads/export?industry=SaaS")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["first_name"] for row in rows] == ["'=cmd"]


def test_list_filters_and_sorts(tenant):
    low = make(tenant, industry="SaaS")
    high = set_fields(make(tenant, industry="SaaS"), email_status="valid")
    api = tenant.api()
    assert [r["id"] for r in api.get("/api/v1/leads").json()["results"]] == [high.pk, low.pk]
    assert [r["id"] for r in api.get("/api/v1/leads?sort=-created").json()["results"]] == [high.pk, low.pk]
    assert [r["id"] for r in api.get("/api/v1/leads?score_min=20").json()["results"]] == [high.pk]
    assert api.get("/api/v1/leads?score_min=200").status_code == 400


def test_my_leads_page_bulk_tag_all_matching_and_drawer(client, tenant):
    client.force_login(tenant.user)
    leads = [make(tenant, industry="SaaS") for _ in range(3)] + [make(tenant, industry="Retail")]
    response = client.post(
        "/leads/bulk/", {"scope": "all", "query": "industry=SaaS", "action": "tag", "tags": "saas-q4"}, follow=True
    )
    assert b"3 leads tagged" in response.content
    assert Lead.objects.filter(tags__contains=["saas-q4"]).count() == 3
    drawer = client.get(f"/leads/{leads[0].pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="score-factors"' in drawer and "Recency" in drawer and "<html" not in drawer
    confirm = client.get("/leads/").content.decode()
    assert 'data-testid="lead-row"' in confirm


def test_new_leads_are_announced_with_their_origin(client, tenant):
    from segments.services import segment_create, segment_pull
    from tests.marketplace.conftest import fund
    from tests.segments.conftest import make_person

    client.force_login(tenant.user)
    since = timezone.now().isoformat()
    quiet = client.get("/leads/updates/", {"since": since})
    assert "HX-Trigger" not in quiet.headers and 'hx-trigger="every 5s"' in quiet.content.decode()
    for i in range(3):
        make_person(score=50 + i)
    fund(tenant.workspace, 10)
    segment = segment_create(workspace=tenant.workspace, name="SaaS CTOs", filters={})
    segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=3)
    announced = client.get("/leads/updates/", {"since": since})
    trigger = json.loads(announced.headers["HX-Trigger"])
    assert trigger["toast"]["message"] == "3 new leads from your segment “SaaS CTOs”."
    assert "leads-arrived" in trigger


def test_my_leads_query_count_does_not_grow_with_rows(client, tenant, django_assert_max_num_queries):
    client.force_login(tenant.user)
    for _i in range(5):
        make(tenant)
    with django_assert_max_num_queries(14) as few:
        client.get("/leads/")
    small = len(few.captured_queries)
    for _i in range(60):
        make(tenant)
    with django_assert_max_num_queries(small) as many:
        client.get("/leads/")
    assert len(many.captured_queries) == small


def test_export_answers_a_client_asking_for_csv(tenant):
    make(tenant, first_name="Ann")
    response = tenant.api().get("/api/v1/leads/export", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    bad = tenant.api().get("/api/v1/leads/export?score_min=abc", HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json" and bad.json()["error"]["fields"]
