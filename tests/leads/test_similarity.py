"""leads.similarity: the one rule for "same person by name and company"."""

import pytest

from leads.similarity import is_same_person, person_similarity, text_similarity


def person(first, last, company, domain=""):
    return {"first_name": first, "last_name": last, "company_name": company, "company_domain": domain}


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("smith", "smiht", 0.9),  # two neighbours swapped: one edit
        ("ruiz", "riuz", 0.875),
        ("smith", "smyth", 0.8),  # a changed letter in a short name stays below 0.85: Smyth is another name
        ("smith", "smith", 1.0),
        ("smith", "", 0.0),
    ],
)
def test_text_similarity_counts_a_swap_of_neighbours_as_one_edit(a, b, expected):
    assert text_similarity(a, b) == pytest.approx(expected, abs=0.001)


def test_a_swapped_pair_of_letters_in_a_short_last_name_is_the_same_person(settings):
    settings.FUZZY_DUPLICATE_THRESHOLD = 0.85
    assert is_same_person(person("John", "Smith", "Acme", "acme.com"), person("John", "Smiht", "Acme", "acme.com"))
    assert not is_same_person(person("John", "Smith", "Acme", "acme.com"), person("John", "Smyth", "Acme", "acme.com"))


def test_swaps_that_are_not_neighbours_are_ordinary_edits():
    assert text_similarity("abcd", "dbca") < 0.85
    assert person_similarity(person("Ann", "Lee", "Acme"), person("Ann", "Eel", "Acme")) < 0.85
