import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from credits.models import CreditAccount, CreditTransaction
from leads.models import Lead
from leads.services import lead_create
from segments.models import Segment, SegmentRun
from segments.services import segment_create, segment_pull
from tests.marketplace.conftest import fund

from .conftest import make_person

pytestmark = pytest.mark.django_db


def create(tenant, filters=None, **extra):
    return tenant.api().post("/api/v1/segments", {"name": "SaaS VPs", "filters": filters or {}, **extra}, format="json")


@pytest.mark.parametrize(
    "filters,field",
    [
        ({"colour": ["red"]}, "colour"),
        ({"industry": "SaaS"}, "industry"),
        ({"company_size": ["huge"]}, "company_size"),
        ({"seniority": ["wizard"]}, "seniority"),
        ({"has_phone": "perhaps"}, "has_phone"),
        ({"score_min": 101}, "score_min"),
        ({"industry": [1, 2]}, "industry"),
        ({"seniority": [7]}, "seniority"),
        ({"has_email": "yes"}, "has_email"),
        ({"email_verified": 1}, "email_verified"),
        ({"title": 5}, "title"),
    ],
)
def test_bad_filters_are_400_naming_the_filter(tenant, filters, field):
    response = create(tenant, filters)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]["filters"]
    assert field in error["message"]
    assert not Segment.objects.exists()
    segment = create(tenant).json()
    patched = tenant.api().patch(f"/api/v1/segments/{segment['id']}", {"filters": filters}, format="json")
    assert patched.status_code == 400 and Segment.objects.get().filters == {}


def test_a_bad_list_item_is_named_in_plain_words(tenant):
    error = create(tenant, {"industry": ["SaaS", "x" * 101]}).json()["error"]
    assert error["message"] == "Filter 'industry': Item 2: Ensure this field has no more than 100 characters."
    assert "ErrorDetail" not in str(error)


def test_crud_contract(tenant, other_tenant):
    body = create(tenant, {"industry": ["SaaS"], "title": "vp sales", "has_email": True}, description="ICP").json()
    assert set(body) >= {"id", "name", "description", "filters", "status", "last_count", "last_run"}
    assert body["filters"] == {"industry": ["SaaS"], "title": "vp sales", "has_email": True}
    assert body["status"] == "active" and body["last_count"] is None
    api = tenant.api()
    patched = api.patch(f"/api/v1/segments/{body['id']}", {"name": "Renamed", "status": "paused"}, format="json")
    assert patched.json()["name"] == "Renamed" and patched.json()["status"] == "paused"
    assert api.get("/api/v1/segments").json()["results"][0]["id"] == body["id"]
    assert other_tenant.api().get(f"/api/v1/segments/{body['id']}").status_code == 404
    assert other_tenant.api().delete(f"/api/v1/segments/{body['id']}").status_code == 404
    assert api.delete(f"/api/v1/segments/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/segments/{body['id']}").status_code == 404


def test_preview_counts_for_free(tenant, people):
    make_person(industry="Fintech", state="NY")
    segment = create(tenant, {"industry": ["SaaS"], "state": ["TX"]}).json()
    response = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "preview"}, format="json")
    assert response.json() == {"count": 30}
    refreshed = tenant.api().get(f"/api/v1/segments/{segment['id']}").json()
    assert refreshed["last_count"] == 30 and refreshed["last_run"]
    assert not CreditTransaction.objects.exists()


def test_every_filter_narrows_the_count(tenant, db):
    base = {"industry": "SaaS", "state": "TX", "city": "Austin", "company_size": "51-200", "seniority": "vp"}
    make_person(**base)
    make_person(**{**base, "title": "Chief Technology Officer", "seniority": "c_level"})
    make_person(
        **{**base, "phone": "(415) 555-2671", "email_verified": True, "score": 95, "linkedin_url": "https://linkedin.com/in/x"}
    )
    make_person(**{**base, "city": "Dallas", "company_size": "1-10", "industry": "Retail", "state": "CA"})
    cases = [
        ({}, 4),
        ({"industry": ["SaaS"]}, 3),
        ({"state": ["CA", "NY"]}, 1),
        ({"city": ["Austin"]}, 3),
        ({"company_size": ["1-10"]}, 1),
        ({"seniority": ["c_level"]}, 1),
        ({"title": "sales vp"}, 3),
        ({"title": "chief officer"}, 1),
        ({"has_phone": True}, 1),
        ({"has_linkedin": False}, 3),
        ({"email_verified": True}, 1),
        ({"score_min": 90}, 1),
        ({"has_email": True, "industry": ["SaaS"]}, 3),
    ]
    from segments.services import search_count

    for filters, expected in cases:
        assert search_count(filters=filters) == expected, filters


def test_pull_adds_new_people_charges_for_them_only_and_skips_owned(tenant, people):
    fund(tenant.workspace, 100)
    # The best-scored person is owned (ranked above the pull, so skipped); the worst is too (ranked below it).
    for owned in (people[0], people[-1]):
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": owned.email})
    segment = create(tenant, {"industry": ["SaaS"]}).json()
    response = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 10}, format="json")
    assert response.status_code == 200
    assert response.json() == {"pulled": 10, "skipped_owned": 1, "credits_charged": "10.00"}
    pulled = Lead.objects.filter(workspace=tenant.workspace, source="database")
    assert pulled.count() == 10
    assert set(pulled.values_list("email", flat=True)) == {p.email for p in people[1:11]}, "best scores first"
    again = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 100}, format="json").json()
    assert again == {"pulled": 18, "skipped_owned": 12, "credits_charged": "18.00"}
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("72.00")
    empty = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 5}, format="json").json()
    assert empty == {"pulled": 0, "skipped_owned": 30, "credits_charged": "0.00"}
    call_command("check_consistency")


def test_pull_with_too_few_credits_changes_nothing(tenant, people):
    fund(tenant.workspace, 3)
    segment = create(tenant, {}).json()
    response = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 25}, format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits" and error["missing"] == "22.00"
    assert not Lead.objects.filter(workspace=tenant.workspace).exists()
    assert not SegmentRun.objects.exists()
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("3.00")


@pytest.mark.parametrize("status", ["paused", "archived"])
def test_paused_and_archived_segments_cannot_be_pulled(tenant, people, status):
    fund(tenant.workspace, 100)
    segment = create(tenant, {}, status=status).json()
    response = tenant.api().post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 5}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "segment_not_active"
    assert not Lead.objects.exists()


def test_run_input_is_validated(tenant, people):
    segment = create(tenant, {}).json()
    api = tenant.api()
    assert api.post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull"}, format="json").status_code == 400
    assert api.post(f"/api/v1/segments/{segment['id']}/run", {"mode": "dance"}, format="json").status_code == 400
    assert api.post(f"/api/v1/segments/{segment['id']}/run", {"mode": "pull", "limit": 0}, format="json").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_pulls_of_one_segment_add_each_person_once_and_charge_once(tenant):
    for i in range(40):
        make_person(score=99 - i)
    fund(tenant.workspace, 1000)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    barrier, errors, runs = threading.Barrier(10), [], []

    def pull():
        try:
            barrier.wait()
            runs.append(segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=25))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=pull) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(run.pulled for run in runs) == 40
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 40
    assert Lead.objects.filter(workspace=tenant.workspace).values("dedup_hash").distinct().count() == 40
    charged = sum(CreditTransaction.objects.filter(kind="spend").values_list("amount", flat=True))
    assert charged == Decimal("-40.00")
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("960.00")


@pytest.mark.django_db(transaction=True)
def test_two_segments_pulling_the_same_people_at_once_charge_each_person_once(tenant):
    for i in range(30):
        make_person(score=80 - i)
    fund(tenant.workspace, 1000)
    first = segment_create(workspace=tenant.workspace, name="A", filters={"industry": ["SaaS"]})
    second = segment_create(workspace=tenant.workspace, name="B", filters={"state": ["TX"]})
    barrier, runs = threading.Barrier(2), []

    def pull(segment):
        try:
            barrier.wait()
            runs.append(segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=30))
        finally:
            connection.close()

    threads = [threading.Thread(target=pull, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(run.pulled for run in runs) == 30
    assert sum(run.credits_charged for run in runs) == Decimal("30.00")
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("970.00")


@pytest.mark.parametrize("per_day", [10_001, -1])
def test_a_400_on_create_creates_nothing(tenant, per_day):
    response = tenant.api().post("/api/v1/segments", {"name": "Too many", "auto_pull_per_day": per_day}, format="json")
    assert response.status_code == 400
    assert "auto_pull_per_day" in response.json()["error"]["fields"]
    assert not Segment.objects.exists()


def test_create_with_automatic_pulls_sets_them_at_once(tenant):
    body = tenant.api().post("/api/v1/segments", {"name": "Daily", "auto_pull_per_day": 25}, format="json").json()
    assert body["auto_pull_per_day"] == 25 and Segment.objects.get().auto_pull_per_day == 25
