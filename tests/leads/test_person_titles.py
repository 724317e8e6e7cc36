"""PersonTitle: the distinct job titles that title-words searches look up, kept by PostgreSQL on every write of
people (insert, update, bulk and COPY loads), so that a search finds exactly whom matching every person's title
would find."""

import pytest
from django.db import connection

from leads import demo
from leads.models import PERSON_TITLES_ON_INSERT, Person, PersonTitle
from privacy.services import erase_person
from segments.services import search_count
from tests.segments.conftest import make_person

pytestmark = pytest.mark.django_db


def titled(words: str) -> int:
    return search_count(filters={"title": words})


def test_a_new_title_is_found_by_its_words_as_soon_as_a_person_holds_it():
    assert titled("llama wrangler") == 0
    make_person(title="Chief Llama Wrangler", seniority="c_level")
    assert PersonTitle.objects.filter(title="Chief Llama Wrangler").exists()
    assert titled("llama wrangler") == 1
    assert titled("wrangler chief") == 1
    assert titled("llama accountant") == 0
    assert search_count(filters={"title": "llama", "seniority": ["vp"]}) == 0


def test_a_changed_title_is_found_by_its_new_words_and_no_longer_by_the_old():
    person = make_person(title="Llama Wrangler")
    person.title = "Head of Alpaca Care"
    person.save()
    assert (titled("alpaca care"), titled("llama")) == (1, 0)
    Person.objects.filter(pk=person.pk).update(title="Vicuna Shepherd")
    assert (titled("vicuna"), titled("alpaca")) == (1, 0)


def test_an_erased_person_leaves_title_searches():
    make_person(title="Alpaca Groomer", email="groomer@erase.example")
    assert titled("alpaca groomer") == 1
    erase_person(email="groomer@erase.example", actor=None, reason="Asked by email")
    assert titled("alpaca groomer") == 0


def test_people_inserted_in_bulk_bring_their_titles():
    first = make_person(title="Placeholder")
    Person.objects.bulk_create(
        [
            Person(title=title, dedup_hash=f"bulk-{n}", email=f"bulk{n}@x.example", company=first.company)
            for n, title in enumerate(["Guanaco Analyst", "Senior Guanaco Analyst", "Guanaco Analyst"])
        ]
    )
    assert titled("guanaco analyst") == 3
    assert titled("senior guanaco") == 1
    assert PersonTitle.objects.filter(title__contains="Guanaco").count() == 2


def test_words_match_exactly_whom_full_text_search_over_every_title_matches():
    for title in ["VP of Sales", "SVP of Sales", "Sales Manager", "Director of Sales & Marketing", "CEO", "", "Co-Founder"]:
        make_person(title=title)
    for words in ["vp sales", "sales", "SALES manager", "co-founder", "founder", "marketing & sales", "of", "ceo cto", "&&"]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM leads_person WHERE to_tsvector('simple', title) @@ plainto_tsquery('simple', %s)",
                [words],
            )
            expected = cursor.fetchone()[0]
        assert titled(words) == expected, words


def test_the_demo_loader_adds_the_titles_it_writes_and_leaves_the_trigger_on(monkeypatch):
    monkeypatch.setattr(demo, "DROP_INDEXES_MIN_PEOPLE", 100)
    demo.fill_lead_database(300)
    held = set(Person.objects.exclude(title="").values_list("title", flat=True).distinct())
    assert held and held <= set(PersonTitle.objects.values_list("title", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'leads_person'::regclass AND tgname = %s",
            [PERSON_TITLES_ON_INSERT],
        )
        assert cursor.fetchone() == ("O",)
    make_person(title="Quokka Evangelist")
    assert titled("quokka") == 1
