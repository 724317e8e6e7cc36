"""seed_demo: a consistent, plausible lead database, demo logins, and idempotent reruns."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count, F, Q

from accounts.models import Membership, User, Workspace
from leads.models import Company, CompanySize, Person, Seniority
from leads.normalize import dedup_hash, is_valid_email, is_valid_linkedin_url, normalize_phone

pytestmark = pytest.mark.django_db

PEOPLE = 2000


def seed(people: int = PEOPLE) -> str:
    out = StringIO()
    call_command("seed_demo", people=people, listed=30, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_people_and_companies_are_consistent_and_plausible():
    output = seed()

    assert Person.objects.count() == PEOPLE
    # About one company per 20 people, each with a unique domain.
    companies = Company.objects.count()
    assert PEOPLE / 30 <= companies <= PEOPLE / 12
    assert Company.objects.values("domain").distinct().count() == companies
    assert "People: 2,000" in output and "marketplace listings: 30 (30 added)" in output

    people = Person.objects.all()
    # The has_* flags say exactly whether the value is there.
    assert not people.filter(Q(has_email=True, email="") | Q(has_email=False) & ~Q(email="")).exists()
    assert not people.filter(Q(has_phone=True, phone="") | Q(has_phone=False) & ~Q(phone="")).exists()
    assert not people.filter(Q(has_linkedin=True, linkedin_url="") | Q(has_linkedin=False) & ~Q(linkedin_url="")).exists()
    assert people.values("email").distinct().count() == PEOPLE
    assert people.values("dedup_hash").distinct().count() == PEOPLE

    without_phone = people.filter(has_phone=False).count() / PEOPLE
    without_linkedin = people.filter(has_linkedin=False).count() / PEOPLE
    verified = people.filter(email_verified=True).count() / PEOPLE
    assert 0.22 <= without_phone <= 0.38
    assert 0.32 <= without_linkedin <= 0.48
    assert 0.47 <= verified <= 0.63

    # The company's firmographics are copied onto its people.
    assert not people.exclude(
        company_name=F("company__name"),
        company_domain=F("company__domain"),
        company_size=F("company__size"),
        industry=F("company__industry"),
    ).exists()
    assert not people.filter(company__isnull=True).exists()

    # Values the rest of the product accepts as they are.
    assert set(people.values_list("seniority", flat=True).distinct()) <= set(Seniority.values)
    assert set(people.values_list("company_size", flat=True).distinct()) <= set(CompanySize.values)
    for person in people.order_by("id")[:300]:
        assert is_valid_email(person.email)
        assert person.email.endswith("@" + person.company_domain)
        assert person.dedup_hash == dedup_hash(person.email, person.phone)
        if person.phone:
            assert normalize_phone(person.phone) == person.phone  # valid US number in E.164
        if person.linkedin_url:
            assert is_valid_linkedin_url(person.linkedin_url)
        assert len(person.state) == 2 and person.city and len(person.zip) == 5 and person.country == "US"
        assert person.title
        assert 0 <= person.score <= 100
    assert people.filter(seniority=Seniority.C_LEVEL).exclude(title="").exists()
    c_level_titles = set(people.filter(seniority=Seniority.C_LEVEL).values_list("title", flat=True))
    assert c_level_titles and not any(title.startswith(("VP", "Senior", "Director")) for title in c_level_titles)

    # Skewed, not uniform (people come in companies, so a small sample is lumpy: loose bounds).
    industries = sorted(people.values_list("industry").annotate(n=Count("id")).values_list("n", flat=True), reverse=True)
    assert len(industries) >= 20
    assert sum(industries[:5]) > 0.3 * PEOPLE  # 5 of 30 industries; uniform would give 17%
    states = dict(people.values_list("state").annotate(n=Count("id")))
    assert len(states) >= 30
    assert max(states, key=states.get) in {"CA", "TX", "FL", "NY"}
    small = Company.objects.filter(size__in=[CompanySize.S1_10, CompanySize.S11_50]).count()
    assert small / companies > 0.5
    rank_and_file = people.filter(seniority__in=[Seniority.MANAGER, Seniority.SENIOR, Seniority.ENTRY]).count()
    assert rank_and_file / PEOPLE > 0.65

    # Completeness pays: complete, senior records score higher.
    complete = people.filter(has_phone=True, has_linkedin=True, email_verified=True, seniority=Seniority.C_LEVEL)
    bare = people.filter(has_phone=False, has_linkedin=False, email_verified=False, seniority=Seniority.ENTRY)
    assert set(complete.values_list("score", flat=True)) == {100}
    assert max(bare.values_list("score", flat=True)) < 50


def test_demo_accounts_exist_and_can_log_in(settings):
    seed()

    buyer = authenticate(email="buyer@cursive.demo", password=settings.DEMO_PASSWORD)
    partner = authenticate(email="partner@cursive.demo", password=settings.DEMO_PASSWORD)
    admin = authenticate(email="admin@cursive.demo", password=settings.DEMO_PASSWORD)
    assert buyer is not None and partner is not None and admin is not None
    assert admin.is_staff and admin.is_superuser
    assert not buyer.is_staff and not partner.is_staff

    northwind = Membership.objects.get(user=buyer, role=Membership.Role.OWNER).workspace
    assert (northwind.name, northwind.kind) == ("Northwind Sales", Workspace.Kind.BUYER)
    leadforge = Membership.objects.get(user=partner, role=Membership.Role.OWNER).workspace
    assert (leadforge.name, leadforge.kind) == ("LeadForge Data", Workspace.Kind.PARTNER)


def test_a_second_run_adds_nothing_and_a_bigger_one_only_the_missing_people():
    seed()
    first_run = set(Person.objects.values_list("dedup_hash", flat=True))
    state = (
        Person.objects.count(),
        Company.objects.count(),
        User.objects.count(),
        Workspace.objects.count(),
        Membership.objects.count(),
    )

    output = seed()
    assert (
        Person.objects.count(),
        Company.objects.count(),
        User.objects.count(),
        Workspace.objects.count(),
        Membership.objects.count(),
    ) == state
    assert "(0 added)" in output

    seed(PEOPLE + 700)
    grown = set(Person.objects.values_list("dedup_hash", flat=True))
    assert len(grown) == PEOPLE + 700 and first_run < grown

    # Person i is the same whatever the history: one run of the bigger size makes the same people.
    Person.objects.all().delete()
    Company.objects.all().delete()
    seed(PEOPLE + 700)
    assert set(Person.objects.values_list("dedup_hash", flat=True)) == grown


def test_the_demo_buyer_has_credits_and_the_marketplace_has_leads_once():
    from credits.models import CreditAccount
    from marketplace.models import Listing

    seed()
    seed()
    buyer = Workspace.objects.get(name="Northwind Sales")
    from leads.models import Lead

    # 500 opening credits, less a segment pull (up to 25 people) and a 5-lead marketplace purchase.
    assert 0 < Lead.objects.filter(workspace=buyer, source="database").count() <= 25
    assert Lead.objects.filter(workspace=buyer, source="marketplace").count() == 5
    assert 0 < CreditAccount.objects.get(workspace=buyer).balance < 500
    assert Listing.objects.filter(status="available").count() == 25
    partner_listed = Listing.objects.filter(partner__name="LeadForge Data").count()
    assert 5 <= partner_listed <= 15
    call_command("check_consistency", stdout=StringIO())


def test_the_demo_buyer_sees_website_visitors_identified_each_way_once():
    from leads.models import Lead
    from visitors.models import IpRange, Pixel, Visitor

    seed()
    seed()
    buyer = Workspace.objects.get(name="Northwind Sales")
    assert Pixel.objects.filter(workspace=buyer).count() == 1
    assert IpRange.objects.filter(kind="company").count() == 12 and IpRange.objects.exclude(kind="company").count() == 2
    visitors = Visitor.objects.filter(pixel__workspace=buyer)
    assert visitors.filter(identified_by="ip", email__isnull=True, company_name__isnull=False).count() == 10
    assert visitors.filter(identified_by="form", lead__source="pixel").count() == 2
    isp_visitor = visitors.get(key="demo-visitor-isp")
    assert isp_visitor.identified_by is None and isp_visitor.company_name is None
    assert Lead.objects.filter(workspace=buyer, source="pixel").count() == 2


def _person_indexes() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'leads_person'")
        return {row[0] for row in cursor.fetchall()}


def test_a_big_load_drops_and_rebuilds_every_index_and_the_dedup_constraint(monkeypatch):
    from django.db import IntegrityError, transaction

    from leads import demo

    before = _person_indexes()
    assert "person_dedup_hash_unique" in before and not any(name.endswith("_like") for name in before)
    monkeypatch.setattr(demo, "DROP_INDEXES_MIN_PEOPLE", 100)
    progress_lines = []
    _, added = demo.fill_lead_database(300, progress=progress_lines.append)
    assert added == 300 and any("Dropping" in line for line in progress_lines)
    assert _person_indexes() == before
    clash = Person.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(first_name="Twin", email="twin@example.com", dedup_hash=clash.dedup_hash)
