"""Fuzzy duplicates: labelled pairs through the real scan against PostgreSQL, merges, dismissals, races."""

from __future__ import annotations

import itertools

import pytest

from leads.duplicates import duplicates_scan
from leads.models import Company, DuplicatePair, Lead, Person
from leads.normalize import dedup_hash
from leads.services import lead_create
from leads.similarity import person_similarity

pytestmark = pytest.mark.django_db

_n = itertools.count(1)


def make_person(first, last, company, domain="", **fields):
    """A person of the lead database, as the demo loader or staff write them."""
    n = next(_n)
    company_row = None
    if domain:
        company_row, _ = Company.objects.get_or_create(
            domain=domain, defaults={"name": company, "size": "51-200", "industry": "SaaS"}
        )
    values = {
        "first_name": first,
        "last_name": last,
        "company_name": company,
        "company_domain": domain,
        "email": f"p{n}@mail{n}.example",
        "title": "VP of Sales",
        "has_email": True,
        **fields,
    }
    values.setdefault("has_phone", bool(values.get("phone")))
    return Person.objects.create(company=company_row, dedup_hash=dedup_hash(values["email"], values.get("phone", "")), **values)


def open_pairs(kind="person", workspace=None):
    pairs = DuplicatePair.objects.filter(kind=kind, status=DuplicatePair.Status.OPEN)
    if workspace is not None:
        pairs = pairs.filter(workspace=workspace)
    return {(p.low_id, p.high_id) for p in pairs}


def pair(a, b):
    return tuple(sorted((a.pk, b.pk)))


# (label, first record, second record, same person?)
LABELLED = [
    (
        "typo in the last name",
        ("Katherine", "Johnson", "Globex", "globex.com"),
        ("Katherine", "Jonhson", "Globex", "globex.com"),
        True,
    ),
    ("swapped letters", ("John", "Smith", "Initech", "initech.com"), ("John", "Smiht", "Initech", "initech.com"), True),
    ("typo in the first name", ("Jonathan", "Pierce", "Hooli", "hooli.com"), ("Jonahtan", "Pierce", "Hooli", "hooli.com"), True),
    ("nickname", ("Robert", "Fischer", "Vandelay", "vandelay.com"), ("Bob", "Fischer", "Vandelay", "vandelay.com"), True),
    ("Inc. vs Incorporated, no domain", ("Maria", "Lopez", "Acme Inc.", ""), ("Maria", "Lopez", "Acme Incorporated", ""), True),
    (
        "same company, other domain spelling",
        ("Wei", "Chen", "Umbrella", "www.umbrella.com"),
        ("Wei", "Chen", "Umbrella Corp", "umbrella.com"),
        True,
    ),
    ("different people at one company", ("John", "Baker", "Stark", "stark.com"), ("Jane", "Baker", "Stark", "stark.com"), False),
    ("different people at one company", ("Mark", "Ellis", "Stark", "stark.com"), ("Mary", "Ellis", "Stark", "stark.com"), False),
    ("colleagues with other surnames", ("Priya", "Patel", "Wayne", "wayne.com"), ("Priya", "Shah", "Wayne", "wayne.com"), False),
    (
        "namesakes at different companies",
        ("David", "Miller", "Cyberdyne", "cyberdyne.com"),
        ("David", "Miller", "Tyrell", "tyrell.com"),
        False,
    ),
    (
        "namesakes, similar company names",
        ("Sarah", "Connor", "Blue River Labs", "blueriver.io"),
        ("Sarah", "Connor", "Red River Labs", "redriver.io"),
        False,
    ),
]


@pytest.mark.parametrize("label, a, b, same", LABELLED, ids=[f"{i}-{row[0]}" for i, row in enumerate(LABELLED)])
def test_labelled_pairs_are_found_or_left_alone_by_the_lead_database_scan(label, a, b, same):
    first, second = make_person(*a), make_person(*b)
    make_person("Unrelated", "Person", "Elsewhere", "elsewhere.com")

    result = duplicates_scan(kind="person")

    assert (pair(first, second) in open_pairs()) is same, label
    assert result.found == (1 if same else 0)


def test_all_labelled_pairs_in_one_scan_and_scores_are_person_similarity(settings):
    made = [(make_person(*a), make_person(*b), same) for _, a, b, same in LABELLED]

    duplicates_scan(kind="person")

    expected = {pair(x, y) for x, y, same in made if same}
    assert open_pairs() == expected
    for stored in DuplicatePair.objects.all():
        x, y = Person.objects.get(pk=stored.low_id), Person.objects.get(pk=stored.high_id)
        assert float(stored.score) == pytest.approx(person_similarity(x, y), abs=0.001)
        assert stored.score >= settings.FUZZY_DUPLICATE_THRESHOLD


def test_the_threshold_is_a_setting(settings):
    a, b = (
        make_person("Katherine", "Johnson", "Globex", "globex.com"),
        make_person("Katherine", "Jonhson", "Globex", "globex.com"),
    )
    settings.FUZZY_DUPLICATE_THRESHOLD = 0.95  # one swap in 7 letters scores 0.929

    duplicates_scan(kind="person")
    assert open_pairs() == set()

    settings.FUZZY_DUPLICATE_THRESHOLD = 0.9
    duplicates_scan(kind="person")
    assert open_pairs() == {pair(a, b)}


def test_a_rescan_keeps_dismissed_pairs_dismissed_and_drops_pairs_no_longer_alike(tenant):
    a, b = make_person("Robert", "Fischer", "Vandelay", "vandelay.com"), make_person("Bob", "Fischer", "Vandelay", "vandelay.com")
    c, d = make_person("Maria", "Lopez", "Acme Inc.", ""), make_person("Maria", "Lopez", "Acme Incorporated", "")
    duplicates_scan(kind="person")
    stored = DuplicatePair.objects.get(low_id=min(a.pk, b.pk))
    from leads.duplicates import duplicate_pair_dismiss

    duplicate_pair_dismiss(pair_id=stored.pk, actor=tenant.user)
    Person.objects.filter(pk=d.pk).update(last_name="Hernandez")

    result = duplicates_scan(kind="person")

    stored.refresh_from_db()
    assert stored.status == DuplicatePair.Status.DISMISSED
    assert open_pairs() == set()
    assert result.removed == 1
    assert not DuplicatePair.objects.filter(low_id=min(c.pk, d.pk)).exists()


def _lead(tenant, first, last, company, domain="", **extra):
    data = {"first_name": first, "last_name": last, "company_name": company, "company_domain": domain}
    data.setdefault("email", f"{first}.{last}.{next(_n)}@{domain or 'mail.example'}".lower())
    data.update(extra)
    return lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data=data)


def test_workspace_scan_finds_pairs_within_each_workspace_only(tenant, other_tenant):
    mine = (
        _lead(tenant, "Robert", "Fischer", "Vandelay", "vandelay.com"),
        _lead(tenant, "Bob", "Fischer", "Vandelay", "vandelay.com"),
    )
    theirs = _lead(other_tenant, "Robert", "Fischer", "Vandelay", "vandelay.com")
    _lead(tenant, "Jane", "Fischer", "Vandelay", "vandelay.com")

    duplicates_scan(kind="lead", workspace=tenant.workspace)

    assert open_pairs("lead") == {pair(*mine)}
    assert DuplicatePair.objects.get().workspace == tenant.workspace

    _lead(other_tenant, "Bob", "Fischer", "Vandelay Inc", "")
    duplicates_scan(kind="lead")

    assert len(open_pairs("lead", other_tenant.workspace)) == 1
    assert all(theirs.pk in p for p in open_pairs("lead", other_tenant.workspace))
    assert open_pairs("lead", tenant.workspace) == {pair(*mine)}


# ---------------------------------------------------------------------------
# Merging people of the lead database


def test_people_merge_keeps_the_best_fields_and_leaves_an_audit_row_without_personal_data(staff_user):
    from cursive.models import AuditEvent
    from leads.duplicates import people_merge

    keep = make_person("Robert", "Fischer", "Vandelay", "vandelay.com", email="rob@vandelay.com", title="", phone="")
    merged = make_person(
        "Bob",
        "Fischer",
        "Vandelay",
        "vandelay.com",
        email="robert.fischer@vandelay.com",
        email_verified=True,
        phone="+12125550101",
        title="CFO",
    )
    duplicates_scan(kind="person")

    kept = people_merge(keep_id=keep.pk, merge_id=merged.pk, actor=staff_user)

    assert not Person.objects.filter(pk=merged.pk).exists()
    assert (kept.first_name, kept.email, kept.email_verified, kept.phone, kept.title) == (
        "Robert",
        "robert.fischer@vandelay.com",
        True,
        "+12125550101",
        "CFO",
    )
    assert kept.has_phone and kept.dedup_hash == dedup_hash("robert.fischer@vandelay.com", "")
    assert DuplicatePair.objects.get().status == DuplicatePair.Status.MERGED
    audit = AuditEvent.objects.get(action="person.merge")
    assert audit.actor == staff_user and audit.target == f"person:{keep.pk}"
    assert audit.data["kept_id"] == keep.pk and audit.data["merged_id"] == merged.pk
    assert set(audit.data["fields_taken"]) == {"email", "email_verified", "phone", "title"}
    assert "robert.fischer@vandelay.com" not in str(audit.data) and "CFO" not in str(audit.data)


def test_people_merge_keeps_the_kept_persons_unverified_email_over_none(staff_user):
    from leads.duplicates import people_merge

    keep = make_person("Ann", "Lee", "Acme", "acme.com", email="ann@acme.com")
    merged = make_person("Ann", "Lee", "Acme", "acme.com", email="ann.lee@acme.com")

    kept = people_merge(keep_id=keep.pk, merge_id=merged.pk, actor=staff_user)

    assert kept.email == "ann@acme.com" and kept.dedup_hash == dedup_hash("ann@acme.com", "")


@pytest.fixture
def staff_user(db):
    from accounts.services import user_create

    user = user_create(email=f"staff{next(_n)}@cursive.test", password="a-good-staff-pass-1")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_scans_are_scheduled_nightly_and_a_workspace_scan_runs_as_a_job(tenant):
    from django_q.models import Schedule

    from leads.tasks import scan_workspace_duplicates

    assert Schedule.objects.get(name="find duplicate people").func == "leads.duplicates.duplicates_scan_lead_database"
    assert Schedule.objects.get(name="find duplicate leads in workspaces").func == "leads.duplicates.duplicates_scan_workspaces"
    mine = (
        _lead(tenant, "Robert", "Fischer", "Vandelay", "vandelay.com"),
        _lead(tenant, "Bob", "Fischer", "Vandelay", "vandelay.com"),
    )

    scan_workspace_duplicates(workspace_id=tenant.workspace.pk)

    assert open_pairs("lead", tenant.workspace) == {pair(*mine)}
