"""Identification: identify calls, forms and signed click ids name a person, who becomes one lead; IP ranges
name a company and never a person. The job runs here through the real job runner (cursive.jobs)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cursive.jobs import job_run
from cursive.models import Job
from leads.models import Lead
from leads.services import lead_create
from tests.segments.conftest import make_person
from visitors import click_ids, tasks
from visitors.models import IpRange, Visitor
from visitors.services import events_record, visitor_identify_person

from .conftest import beacon, make_pixel, pageview

pytestmark = pytest.mark.django_db

IDENTIFY = "visitors.tasks.visitors_identify"


@pytest.fixture
def anonymous():
    return Client()


def run_identification() -> int:
    """Run every pending identification job once, as a worker would; returns how many ran."""
    jobs = list(Job.objects.filter(func=IDENTIFY, status=Job.Status.PENDING).order_by("pk"))
    for job in jobs:
        assert job_run(job.pk) == "succeeded"
    return len(jobs)


def identify(pixel, visitor="visitor-1", **traits):
    return {"site": pixel.site_key, "type": "identify", "visitor": visitor, "traits": traits}


def form(pixel, visitor="visitor-1", **traits):
    return {"site": pixel.site_key, "type": "form", "visitor": visitor, "url": "https://example.com/demo", "traits": traits}


def test_an_identify_call_makes_the_visitor_a_pixel_lead(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, [pageview(pixel), pageview(pixel, url="https://example.com/docs")])
    beacon(anonymous, identify(pixel, email="Dana@Initech.example", first_name="Dana", last_name="Scully", title="CTO"))
    assert run_identification() == 1

    lead = Lead.objects.get(workspace=tenant.workspace)
    assert lead.source == Lead.Source.PIXEL and lead.email == "dana@initech.example"
    assert (lead.first_name, lead.title, lead.pages_viewed) == ("Dana", "CTO", 2)
    assert "Main site" in lead.source_detail
    visitor = tenant.api().get("/api/v1/visitors").json()["results"][0]
    assert visitor["identified_by"] == "identify" and visitor["lead_id"] == lead.pk
    assert visitor["person"] == {
        "email": "dana@initech.example",
        "first_name": "Dana",
        "last_name": "Scully",
        "title": "CTO",
        "company_name": None,
    }
    row = Visitor.objects.get()
    assert row.identified_at is not None and row.identification_lag_ms is not None


def test_a_form_email_of_a_database_person_is_matched_without_giving_their_data_away(anonymous, tenant):
    person = make_person(email="mulder@fbi.example", title="Special Agent", phone="+15125550100")
    pixel = make_pixel(tenant)
    beacon(anonymous, [pageview(pixel), form(pixel, email="MULDER@fbi.example")])
    run_identification()

    visitor = Visitor.objects.get()
    assert visitor.identified_by == Visitor.IdentifiedBy.FORM and visitor.person_id == person.pk
    lead = Lead.objects.get(workspace=tenant.workspace)
    assert lead.dedup_hash == person.dedup_hash, "the database's identity: a later pull will not charge for them"
    assert lead.title == "" and lead.phone == "", "what the database knows is sold, not handed out by a form"


def test_two_identifications_of_one_person_make_one_lead(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, [pageview(pixel, visitor="laptop"), identify(pixel, visitor="laptop", email="ann@acme.example")])
    beacon(anonymous, [pageview(pixel, visitor="phone"), form(pixel, visitor="phone", email="ANN@acme.example ")])
    assert run_identification() == 2
    beacon(anonymous, identify(pixel, visitor="laptop", email="ann@acme.example", company_name="Acme"))
    assert run_identification() == 0, "the same email again on the same visitor is no new work"

    lead = Lead.objects.get(workspace=tenant.workspace)
    assert lead.pages_viewed == 2, "both devices' pages count for the one person"
    assert set(Visitor.objects.values_list("lead_id", flat=True)) == {lead.pk}


def test_a_person_the_workspace_already_owns_is_updated_never_duplicated(anonymous, tenant):
    owned = lead_create(workspace=tenant.workspace, source="marketplace", data={"email": "bo@acme.example"})
    pixel = make_pixel(tenant)
    beacon(anonymous, [pageview(pixel), pageview(pixel), identify(pixel, email="bo@acme.example", first_name="Bo")])
    run_identification()

    lead = Lead.objects.get(workspace=tenant.workspace)
    assert lead.pk == owned.pk and lead.source == "marketplace"
    assert (lead.first_name, lead.pages_viewed) == ("Bo", 2)
    assert lead.score > owned.score, "engagement counts into the score of any lead seen on the site"


def test_the_same_person_in_another_workspace_is_that_workspaces_own_lead(anonymous, tenant, other_tenant):
    ours, theirs = make_pixel(tenant), make_pixel(other_tenant, domain="other.example")
    beacon(anonymous, identify(ours, email="cy@acme.example"))
    beacon(anonymous, identify(theirs, email="cy@acme.example"), origin="https://other.example")
    run_identification()
    assert Lead.objects.filter(email="cy@acme.example").count() == 2
    assert set(Lead.objects.values_list("workspace_id", flat=True)) == {tenant.workspace.pk, other_tenant.workspace.pk}


def test_traits_that_do_not_validate_are_left_out_and_an_invalid_email_names_nobody(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, identify(pixel, visitor="a", email="dee@acme.example", phone="not a phone", first_name=42))
    beacon(anonymous, identify(pixel, visitor="b", email="not-an-email"))
    run_identification()
    lead = Lead.objects.get()
    assert lead.email == "dee@acme.example" and lead.phone == "" and lead.first_name == ""
    assert Visitor.objects.get(key="b").identified_by is None


def test_engagement_after_identification_reaches_the_lead_and_its_score(anonymous, tenant):
    pixel = make_pixel(tenant)
    beacon(anonymous, [pageview(pixel), identify(pixel, email="eve@acme.example")])
    run_identification()
    before = Lead.objects.get()
    beacon(anonymous, [pageview(pixel), pageview(pixel), {**pageview(pixel), "type": "engagement", "engaged_ms": 95_000}])
    tasks.visitors_engagement_sync()
    after = Lead.objects.get()
    assert (after.pages_viewed, after.seconds_on_site) == (3, 95)
    assert after.score == before.score + 6 + 4


def test_a_signed_click_id_names_the_recipient_to_their_workspace_only(anonymous, tenant, other_tenant):
    pixel = make_pixel(tenant)
    good = click_ids.click_id_make(workspace_id=tenant.workspace.pk, email="fay@acme.example")
    foreign = click_ids.click_id_make(workspace_id=other_tenant.workspace.pk, email="gil@acme.example")
    beacon(anonymous, pageview(pixel, visitor="a", traits={"click_id": good}))
    beacon(anonymous, pageview(pixel, visitor="b", traits={"click_id": foreign}))
    beacon(anonymous, pageview(pixel, visitor="c", traits={"click_id": good[:-2] + "xx"}))
    run_identification()
    assert Visitor.objects.get(key="a").identified_by == "email_click"
    assert Lead.objects.get().email == "fay@acme.example"
    assert Visitor.objects.filter(key__in=["b", "c"], identified_by__isnull=False).count() == 0


def test_an_expired_click_id_names_nobody(tenant, monkeypatch):
    token = click_ids.click_id_make(workspace_id=tenant.workspace.pk, email="hal@acme.example")
    monkeypatch.setattr(click_ids, "MAX_AGE_SECONDS", -1)
    assert click_ids.click_id_email(token, workspace_id=tenant.workspace.pk) is None


@pytest.fixture
def ranges():
    IpRange.objects.create(network="203.0.113.0/24", company_name="Initech", company_domain="initech.example")
    IpRange.objects.create(network="203.0.113.128/25", company_name="Initech Labs", company_domain="labs.initech.example")
    IpRange.objects.create(network="198.51.100.0/24", company_name="Comcast", kind=IpRange.Kind.ISP)
    IpRange.objects.create(network="192.0.2.0/24", company_name="Big Cloud", kind=IpRange.Kind.HOSTING)
    IpRange.objects.create(network="2001:db8::/32", company_name="Hooli", company_domain="hooli.example")


def _event():
    return {
        "type": "pageview",
        "url": "https://example.com/",
        "referrer": "",
        "title": "",
        "name": "",
        "engaged_ms": None,
        "data": None,
    }


def test_an_ip_range_names_the_company_and_never_a_person(tenant, ranges):
    pixel = make_pixel(tenant)
    beacon(Client(REMOTE_ADDR="203.0.113.7"), pageview(pixel))
    run_identification()
    visitor = Visitor.objects.get()
    assert (visitor.company_name, visitor.company_domain, visitor.identified_by) == ("Initech", "initech.example", "ip")
    assert visitor.email is None and visitor.lead_id is None and not Lead.objects.exists()
    api = tenant.api().get(f"/api/v1/visitors/{visitor.pk}").json()
    assert api["company"] == {"name": "Initech", "domain": "initech.example"} and api["person"] is None


@pytest.mark.parametrize(
    "ip,company",
    [
        ("203.0.113.200", "Initech Labs"),  # the most specific range wins
        ("2001:db8::1", "Hooli"),
        ("198.51.100.9", None),  # an ISP's customers are not the ISP
        ("192.0.2.50", None),  # nor a cloud's
        ("10.1.2.3", None),
    ],
)
def test_ip_ranges(tenant, ranges, ip, company):
    pixel = make_pixel(tenant)
    events_record(events=[(pixel.pk, {**_event(), "visitor": "v"})], ip=ip)
    run_identification()
    visitor = Visitor.objects.get()
    assert visitor.company_name == company
    assert visitor.identified_by == ("ip" if company else None)


def test_a_person_identification_is_not_overridden_by_the_ip_and_keeps_the_method(tenant, ranges):
    pixel = make_pixel(tenant)
    events_record(
        events=[
            (pixel.pk, {**_event(), "visitor": "v"}),
            (pixel.pk, {**_event(), "visitor": "v", "type": "identify", "data": {"email": "ivy@initech.example"}}),
        ],
        ip="203.0.113.7",
    )
    run_identification()
    visitor = Visitor.objects.get()
    assert visitor.identified_by == "identify" and visitor.company_name == "Initech"


def test_only_a_new_visitor_is_looked_up_by_ip(tenant, ranges):
    pixel = make_pixel(tenant)
    events_record(events=[(pixel.pk, {**_event(), "visitor": "v"})], ip="203.0.113.7")
    events_record(events=[(pixel.pk, {**_event(), "visitor": "v"})], ip="203.0.113.7")
    assert run_identification() == 1
    for ip in ("127.0.0.1", "::1", "not-an-ip", None):
        events_record(events=[(pixel.pk, {**_event(), "visitor": f"new-{ip}"})], ip=ip)
    assert run_identification() == 0, "no network range names a loopback or malformed address"


@pytest.mark.django_db(transaction=True)
def test_concurrent_identifications_of_one_person_make_one_lead(tenant):
    pixel = make_pixel(tenant)
    visitors = []
    for key in ("a", "b", "c", "d"):
        events_record(events=[(pixel.pk, {**_event(), "visitor": key})])
        visitors.append(Visitor.objects.get(key=key).pk)
    barrier = threading.Barrier(len(visitors))
    errors = []

    def run(visitor_id):
        try:
            barrier.wait()
            visitor_identify_person(
                visitor_id=visitor_id,
                method="form",
                traits={"email": "jo@acme.example"},
                seen_at=timezone.now() - timedelta(seconds=1),
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(pk,)) for pk in visitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 1
    assert Lead.objects.get().pages_viewed == 4
