"""When two records are the same person by name and company: the one rule that fuzzy duplicate detection and
batch enrichment's name + company matching share (docs/duplicates.md).

Finding candidates is PostgreSQL's job (`pg_trgm` trigram indexes narrow millions of people to those at the
same company with a similar last name); judging a candidate is this module's: a score in [0, 1], and
`is_same_person` when it reaches FUZZY_DUPLICATE_THRESHOLD (0.85 by default). The score is the weakest of
three parts, so a near-perfect company cannot carry a different first name:
- first name: 1.0 when equal or nicknames of one another (Bob / Robert, from the `nicknames` dataset);
  two different given names that the dataset knows (Mark / Mary, John / Jane) are different people (0);
  otherwise the edit similarity (a typo: Jonathan / Jonahtan);
- last name: edit similarity (Smith / Smiht: a swap of neighbours is one edit), 1.0 when equal;
- company: 1.0 for the same domain, else the edit similarity of the names with legal suffixes dropped
  ("Acme Inc." / "Acme Incorporated" / "ACME").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from django.conf import settings
from nicknames import NickNamer
from rapidfuzz.distance import Indel

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
# Legal forms and filler words that say nothing about which company it is.
_COMPANY_NOISE = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "srl",
        "bv",
        "nv",
        "pty",
        "lp",
        "llp",
        "the",
        "group",
        "holdings",
    ]
)


def fold(value: str) -> str:
    """Lowercase ASCII letters and digits separated by single spaces: accents, punctuation and case dropped."""
    ascii_text = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode()
    return _SPACES.sub(" ", _NON_WORD.sub(" ", ascii_text.lower())).strip()


def company_key(name: str) -> str:
    return " ".join(word for word in fold(name).split() if word not in _COMPANY_NOISE)


def domain_key(domain: str) -> str:
    domain = (domain or "").strip().lower()
    domain = re.sub(r"^[a-z]+://", "", domain).split("/", 1)[0]
    return domain.removeprefix("www.")


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=50_000)
def _name_family(first: str) -> frozenset[str]:
    """The name with its nicknames and the names it is a nickname of; empty for a name the dataset lacks."""
    namer = _namer()
    related = namer.nicknames_of(first) | namer.canonicals_of(first)
    return frozenset(related | {first}) if related else frozenset()


def _one_transposition(a: str, b: str) -> bool:
    """b is a with two neighbouring characters swapped (Smith / Smiht)."""
    if len(a) != len(b):
        return False
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(differ) == 2 and differ[1] == differ[0] + 1 and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]]


def text_similarity(a: str, b: str) -> float:
    """Indel similarity, except that swapping two neighbouring characters, the commonest typo, costs one edit rather
    than two: without that, Smith / Smiht (0.8) would fall below the threshold while Smith / Smithh (0.91) passes."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if _one_transposition(a, b):
        return 1.0 - 1.0 / (len(a) + len(b))
    return Indel.normalized_similarity(a, b)


def first_name_similarity(a: str, b: str) -> float:
    a, b = fold(a), fold(b)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    family_a, family_b = _name_family(a), _name_family(b)
    if b in family_a or a in family_b:
        return 1.0
    if family_a and family_b:
        return 0.0
    return text_similarity(a, b)


def company_similarity(name_a: str, domain_a: str, name_b: str, domain_b: str) -> float:
    domain_a, domain_b = domain_key(domain_a), domain_key(domain_b)
    if domain_a and domain_a == domain_b:
        return 1.0
    return text_similarity(company_key(name_a), company_key(name_b))


def person_similarity(a: dict, b: dict) -> float:
    """How likely two records (dicts or objects with the lead fields first_name, last_name, company_name,
    company_domain) are one person, in [0, 1]."""
    get_a = a.get if isinstance(a, dict) else lambda key: getattr(a, key)
    get_b = b.get if isinstance(b, dict) else lambda key: getattr(b, key)
    return min(
        first_name_similarity(get_a("first_name"), get_b("first_name")),
        text_similarity(fold(get_a("last_name")), fold(get_b("last_name"))),
        company_similarity(get_a("company_name"), get_a("company_domain"), get_b("company_name"), get_b("company_domain")),
    )


def is_same_person(a, b, *, threshold: float | None = None) -> bool:
    return person_similarity(a, b) >= (settings.FUZZY_DUPLICATE_THRESHOLD if threshold is None else threshold)
