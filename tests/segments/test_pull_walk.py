"""segment_pull walks the matching people best first (score, then id) and stops once it has enough: what it takes and
what it reports as skipped must be exactly what sorting every match would give, whatever the ties in score and
however long the run of people the workspace already owns."""

import pytest

from leads.models import Lead, Person
from leads.services import lead_create
from privacy.services import erase_person
from segments.services import segment_create, segment_pull
from tests.marketplace.conftest import fund

from .conftest import make_person

pytestmark = pytest.mark.django_db

# Many ties: eight scores for forty people, so batches end inside a run of equal scores.
SCORES = [90, 80, 80, 70, 70, 70, 60, 50] * 5


def best_first(people):
    return sorted(people, key=lambda person: (-person.score, person.pk))


def expected(people, owned_ids, limit):
    """What sorting every match gives: the first `limit` not owned, and the owned ranked before the last of them."""
    new, skipped = [], 0
    for person in best_first(people):
        if person.pk in owned_ids:
            skipped += 1
        else:
            new.append(person.pk)
            if len(new) == limit:
                break
    return new, skipped


def own(tenant, people):
    for person in people:
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": person.email})


def pulled_people(tenant, run):
    emails = Lead.objects.filter(workspace=tenant.workspace, acquired_reference=run.reference).values_list("email", flat=True)
    return set(Person.objects.filter(email__in=list(emails)).values_list("pk", flat=True))


@pytest.fixture
def ranked(db):
    return [make_person(score=score) for score in SCORES]


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_a_long_run_of_owned_people_is_skipped_and_counted_with_ties_in_score(tenant, ranked, limit):
    fund(tenant.workspace, 100)
    ordered = best_first(ranked)
    # The 17 best are owned (several batches of `limit` in a row), then every third person.
    owned = ordered[:17] + ordered[17::3]
    own(tenant, owned)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={"industry": ["SaaS"]})
    new, skipped = expected(ranked, {person.pk for person in owned}, limit)

    run = segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=limit)

    assert (run.pulled, run.skipped_owned) == (limit, skipped)
    assert pulled_people(tenant, run) == set(new)


def test_when_too_few_are_new_every_owned_match_is_counted(tenant, ranked):
    fund(tenant.workspace, 100)
    owned = best_first(ranked)[3:]
    own(tenant, owned)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    run = segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=10)
    assert (run.pulled, run.skipped_owned) == (3, len(owned))


def test_successive_pulls_take_the_next_best_each_time(tenant, ranked):
    fund(tenant.workspace, 100)
    segment = segment_create(workspace=tenant.workspace, name="All", filters={"industry": ["SaaS"]})
    taken: set[int] = set()
    for _ in range(4):
        new, skipped = expected(ranked, taken, 6)
        run = segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=6)
        assert (run.pulled, run.skipped_owned) == (6, skipped)
        assert pulled_people(tenant, run) == set(new)
        taken |= set(new)


def test_an_erased_person_is_never_pulled(tenant, ranked):
    fund(tenant.workspace, 100)
    best = best_first(ranked)[0]
    erase_person(email=best.email, actor=None, reason="Asked by email")
    make_person(score=99, email=best.email)  # the same identity, back in the lead database
    segment = segment_create(workspace=tenant.workspace, name="All", filters={})
    run = segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=2)
    assert run.pulled == 2
    assert not Lead.objects.filter(workspace=tenant.workspace, email=best.email).exists()


def test_the_lead_search_sample_is_the_best_few_matches_best_first(ranked):
    from segments.services import search_sample

    make_person(score=99, industry="Retail")
    sample = search_sample(filters={"industry": ["SaaS"]}, limit=5)
    assert [person.pk for person in sample] == [person.pk for person in best_first(ranked)[:5]]
