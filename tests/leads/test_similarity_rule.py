"""The rule that says two records are one person by name and company (leads.similarity)."""

import pytest

from leads.similarity import company_key, domain_key, fold, is_same_person, person_similarity


def record(first, last, company, domain=""):
    return {"first_name": first, "last_name": last, "company_name": company, "company_domain": domain}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (record("Jonathan", "Smith", "Acme"), record("Jonahtan", "Smith", "Acme")),
        (record("Sarah", "Johnson", "Acme"), record("Sarah", "Jonhson", "Acme")),
        (record("Bob", "Miller", "Globex"), record("Robert", "Miller", "Globex")),
        (record("Liz", "Taylor", "Hooli"), record("Elizabeth", "Taylor", "Hooli")),
        (record("Alice", "Wong", "Initech Inc."), record("Alice", "Wong", "Initech Incorporated")),
        (record("José", "Núñez", "Acme, LLC"), record("Jose", "Nunez", "ACME")),
        (record("Dana", "Kim", "Whatever", "https://www.umbrella.com/"), record("Dana", "Kim", "Umbrella Corp", "umbrella.com")),
    ],
    ids=["first-name-typo", "last-name-typo", "nickname", "nickname-2", "legal-suffix", "accents-and-case", "same-domain"],
)
def test_the_same_person_written_differently_is_one_person(a, b):
    assert is_same_person(a, b, threshold=0.85)
    assert person_similarity(a, b) == person_similarity(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (record("John", "Smith", "Acme"), record("Jane", "Smith", "Acme")),
        (record("Mark", "Lee", "Acme"), record("Mary", "Lee", "Acme")),
        (record("Priya", "Patel", "Acme"), record("Priya", "Shah", "Acme")),
        (record("John", "Smith", "Acme", "acme.com"), record("John", "Smith", "Umbrella", "umbrella.com")),
        (record("", "Smith", "Acme"), record("", "Smith", "Acme")),
    ],
    ids=["colleagues", "similar-given-names", "same-first-name", "namesakes", "no-first-name"],
)
def test_different_people_are_left_apart(a, b):
    assert not is_same_person(a, b, threshold=0.85)


def test_the_threshold_is_a_setting(settings):
    a, b = record("Jonathan", "Smith", "Acme"), record("Jonahtan", "Smith", "Acme")
    settings.FUZZY_DUPLICATE_THRESHOLD = 0.99
    assert not is_same_person(a, b)
    settings.FUZZY_DUPLICATE_THRESHOLD = 0.85
    assert is_same_person(a, b)


def test_normalisation():
    assert fold("  Zoë  O'Brien-Smith ") == "zoe o brien smith"
    assert company_key("The Acme Group, Inc.") == "acme"
    assert domain_key("HTTPS://WWW.Acme.com/about") == "acme.com"
