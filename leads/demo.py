"""The generated lead database of the demo (`manage.py seed_demo`): people and companies.

Every person and every company is a pure function of its index and a fixed
seed, so the data is the same on every machine and a run only has to add the
indices that are missing: with C people already stored, a run for N people
generates indices C..N-1 (companies likewise). Rows go in with PostgreSQL
COPY, generated 100,000 at a time with numpy so that memory stays bounded
whatever N is.

Layout: company j has a number of people that grows with its size band, and
people fill the companies in index order (slots), shuffled within windows of
1,000 slots so that neighbouring rows do not all belong to one company. The
companies needed for N people are therefore known without generating the
people, and a person's company never depends on N.

The people of a run go in with one COPY in one transaction. For a big load
the search indexes and the dedup-hash constraint are dropped first and rebuilt at
the end of the same transaction, so an interrupted run leaves the table as
it was, indexes included. The idempotency counts rows: it assumes that
leads_person and leads_company hold only what seed_demo wrote.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import lru_cache

import numpy as np
from django.db import connection, transaction
from psycopg.copy import QueuedLibpqWriter

from leads.models import PERSON_DEDUP_UNIQUE, PERSON_TITLES_ON_INSERT, Company, CompanySize, Person, Seniority
from leads.normalize import dedup_hash
from leads.services import LEAD_FIELDS

SEED = 20_260_101
PEOPLE_CHUNK = 100_000  # people generated (and held in memory) at a time
SHUFFLE_WINDOW = 1_000  # slots shuffled together; divides PEOPLE_CHUNK
COMPANY_BLOCK = 10_000  # companies generated at a time
# A load of at least this many people, into a table holding fewer, drops the search indexes of
# leads_person and rebuilds them afterwards. Measured on 2 cores into an empty table: 1M people
# 27 s that way against 35 s keeping the indexes; about even at 300k; keeping them wins at 100k.
DROP_INDEXES_MIN_PEOPLE = 200_000
HISTORY_DAYS = 730

# ---------------------------------------------------------------------------
# Vocabularies. Weights are relative; they are normalised below.

INDUSTRIES = [  # (name, weight): skewed towards software, health, manufacturing
    ("SaaS", 12),
    ("Healthcare", 9),
    ("Manufacturing", 8),
    ("Fintech", 6),
    ("Retail", 6),
    ("Marketing Services", 4.5),
    ("Logistics", 4),
    ("Real Estate", 4),
    ("Education", 4),
    ("E-commerce", 4),
    ("Consulting", 4),
    ("Insurance", 3.5),
    ("Construction", 3.5),
    ("Cybersecurity", 3),
    ("Legal Services", 2.5),
    ("Biotech", 2.5),
    ("Media", 2.5),
    ("Hospitality", 2.5),
    ("Food & Beverage", 2.5),
    ("Telecommunications", 2),
    ("Energy", 2),
    ("Automotive", 2),
    ("Nonprofit", 2),
    ("Transportation", 2),
    ("Government", 1.5),
    ("HR Tech", 1.5),
    ("Pharmaceuticals", 1.5),
    ("Agriculture", 1),
    ("Aerospace", 1),
    ("Gaming", 1),
]

# Company size bands: share of companies (most are small) and how many of their people the
# database holds (bigger companies have more): (band, company weight, people per company).
SIZES = [
    (CompanySize.S1_10, 36, 4),
    (CompanySize.S11_50, 28, 10),
    (CompanySize.S51_200, 18, 22),
    (CompanySize.S201_500, 8, 40),
    (CompanySize.S501_1000, 4.5, 55),
    (CompanySize.S1001_5000, 3.5, 85),
    (CompanySize.S5001_PLUS, 2, 150),
]

SENIORITIES = [Seniority.C_LEVEL, Seniority.VP, Seniority.DIRECTOR, Seniority.MANAGER, Seniority.SENIOR, Seniority.ENTRY]
# Seniority mix by size band: founders and executives are a bigger share of a small company.
SENIORITY_WEIGHTS = {
    CompanySize.S1_10: [14, 5, 7, 20, 25, 29],
    CompanySize.S11_50: [7, 7, 11, 23, 27, 25],
    CompanySize.S51_200: [4, 7, 12, 25, 27, 25],
    CompanySize.S201_500: [3, 6, 13, 26, 27, 25],
    CompanySize.S501_1000: [2, 6, 13, 27, 27, 25],
    CompanySize.S1001_5000: [2, 5, 13, 27, 28, 25],
    CompanySize.S5001_PLUS: [1, 5, 12, 28, 29, 25],
}

TITLES = {
    Seniority.C_LEVEL: [
        "CEO",
        "CTO",
        "CFO",
        "COO",
        "CMO",
        "Chief Revenue Officer",
        "Chief Product Officer",
        "Chief Information Officer",
        "Chief People Officer",
        "Founder & CEO",
        "Co-Founder",
        "President",
    ],
    Seniority.VP: [
        "VP of Sales",
        "VP of Marketing",
        "VP of Engineering",
        "VP of Operations",
        "VP of Finance",
        "VP of Product",
        "VP of Customer Success",
        "VP of Business Development",
        "VP of People",
        "SVP of Sales",
        "VP of IT",
        "VP of Revenue Operations",
    ],
    Seniority.DIRECTOR: [
        "Director of Sales",
        "Director of Marketing",
        "Director of Engineering",
        "Director of Operations",
        "Director of Finance",
        "Director of Product Management",
        "Director of IT",
        "Director of Human Resources",
        "Director of Procurement",
        "Director of Customer Success",
        "Head of Growth",
        "Head of Demand Generation",
    ],
    Seniority.MANAGER: [
        "Sales Manager",
        "Marketing Manager",
        "Engineering Manager",
        "Operations Manager",
        "Product Manager",
        "Account Manager",
        "IT Manager",
        "HR Manager",
        "Procurement Manager",
        "Customer Success Manager",
        "Project Manager",
        "Regional Sales Manager",
        "Office Manager",
        "Finance Manager",
    ],
    Seniority.SENIOR: [
        "Senior Account Executive",
        "Senior Software Engineer",
        "Senior Marketing Specialist",
        "Senior Financial Analyst",
        "Senior Data Analyst",
        "Senior Product Designer",
        "Senior Sales Engineer",
        "Senior Accountant",
        "Senior Recruiter",
        "Senior Business Analyst",
        "Senior Consultant",
        "Senior Operations Analyst",
    ],
    Seniority.ENTRY: [
        "Sales Development Representative",
        "Business Development Representative",
        "Account Executive",
        "Marketing Coordinator",
        "Software Engineer",
        "Customer Support Specialist",
        "Junior Analyst",
        "Operations Associate",
        "Recruiting Coordinator",
        "Sales Associate",
        "Data Analyst",
        "Accountant",
    ],
}

# Points for completeness and seniority; the maximum is 100.
SCORE_EMAIL, SCORE_VERIFIED, SCORE_PHONE, SCORE_LINKEDIN = 20, 20, 20, 15
SCORE_SENIORITY = {
    Seniority.C_LEVEL: 25,
    Seniority.VP: 22,
    Seniority.DIRECTOR: 18,
    Seniority.MANAGER: 12,
    Seniority.SENIOR: 8,
    Seniority.ENTRY: 4,
}

PHONE_SHARE, LINKEDIN_SHARE, VERIFIED_SHARE = 0.70, 0.60, 0.55
HOME_CITY_SHARE = 0.75  # people who live in their company's city

# state, population (millions, 2024), cities: (name, share of the state, first zip, zip span, area codes)
STATES = [
    (
        "CA",
        39.0,
        [
            ("Los Angeles", 30, 90001, 90, (213, 310, 323)),
            ("San Francisco", 18, 94102, 30, (415,)),
            ("San Jose", 12, 95110, 30, (408,)),
            ("San Diego", 15, 92101, 50, (619, 858)),
            ("Oakland", 7, 94601, 20, (510,)),
            ("Irvine", 8, 92602, 20, (949,)),
            ("Sacramento", 6, 95811, 30, (916,)),
            ("Palo Alto", 4, 94301, 5, (650,)),
        ],
    ),
    (
        "TX",
        30.5,
        [
            ("Houston", 30, 77002, 90, (713, 281, 832)),
            ("Dallas", 25, 75201, 50, (214, 469)),
            ("Austin", 20, 78701, 40, (512,)),
            ("San Antonio", 12, 78205, 50, (210,)),
            ("Fort Worth", 7, 76102, 40, (817,)),
            ("Plano", 6, 75023, 10, (972,)),
        ],
    ),
    (
        "FL",
        22.6,
        [
            ("Miami", 30, 33125, 60, (305, 786)),
            ("Orlando", 20, 32801, 40, (407,)),
            ("Tampa", 20, 33602, 40, (813,)),
            ("Jacksonville", 15, 32202, 50, (904,)),
            ("Fort Lauderdale", 15, 33301, 30, (954,)),
        ],
    ),
    (
        "NY",
        19.6,
        [
            ("New York", 60, 10001, 280, (212, 646, 917)),
            ("Brooklyn", 12, 11201, 40, (718, 347)),
            ("Buffalo", 10, 14201, 30, (716,)),
            ("Rochester", 10, 14604, 30, (585,)),
            ("Albany", 8, 12203, 20, (518,)),
        ],
    ),
    (
        "PA",
        13.0,
        [
            ("Philadelphia", 50, 19102, 50, (215, 267)),
            ("Pittsburgh", 35, 15212, 30, (412,)),
            ("Harrisburg", 15, 17101, 10, (717,)),
        ],
    ),
    (
        "IL",
        12.5,
        [("Chicago", 75, 60601, 60, (312, 773)), ("Naperville", 15, 60540, 25, (630,)), ("Springfield", 10, 62701, 10, (217,))],
    ),
    (
        "OH",
        11.8,
        [("Columbus", 40, 43004, 90, (614,)), ("Cleveland", 35, 44101, 40, (216,)), ("Cincinnati", 25, 45202, 50, (513,))],
    ),
    ("GA", 11.0, [("Atlanta", 85, 30303, 60, (404, 678, 470)), ("Savannah", 15, 31401, 20, (912,))]),
    (
        "NC",
        10.8,
        [("Charlotte", 50, 28202, 70, (704, 980)), ("Raleigh", 35, 27601, 20, (919,)), ("Durham", 15, 27701, 10, (919,))],
    ),
    (
        "MI",
        10.0,
        [("Detroit", 55, 48201, 40, (313,)), ("Ann Arbor", 20, 48103, 6, (734,)), ("Grand Rapids", 25, 49503, 20, (616,))],
    ),
    ("NJ", 9.3, [("Newark", 40, 7102, 10, (973,)), ("Jersey City", 35, 7302, 10, (201,)), ("Princeton", 25, 8540, 5, (609,))]),
    (
        "VA",
        8.7,
        [
            ("Arlington", 40, 22201, 10, (703, 571)),
            ("Richmond", 35, 23219, 20, (804,)),
            ("Virginia Beach", 25, 23450, 15, (757,)),
        ],
    ),
    ("WA", 7.8, [("Seattle", 60, 98101, 90, (206,)), ("Bellevue", 25, 98004, 5, (425,)), ("Spokane", 15, 99201, 20, (509,))]),
    (
        "AZ",
        7.4,
        [("Phoenix", 55, 85003, 40, (602, 623)), ("Scottsdale", 25, 85250, 20, (480,)), ("Tucson", 20, 85701, 40, (520,))],
    ),
    ("TN", 7.1, [("Nashville", 60, 37201, 40, (615,)), ("Memphis", 40, 38103, 40, (901,))]),
    ("MA", 7.0, [("Boston", 60, 2108, 30, (617, 857)), ("Cambridge", 25, 2138, 4, (617,)), ("Worcester", 15, 1602, 8, (508,))]),
    ("IN", 6.9, [("Indianapolis", 80, 46201, 50, (317,)), ("Fort Wayne", 20, 46802, 20, (260,))]),
    ("MO", 6.2, [("St. Louis", 55, 63101, 50, (314,)), ("Kansas City", 45, 64105, 50, (816,))]),
    ("MD", 6.2, [("Baltimore", 60, 21201, 30, (410, 443)), ("Bethesda", 40, 20814, 4, (301, 240))]),
    ("WI", 5.9, [("Milwaukee", 60, 53202, 30, (414,)), ("Madison", 40, 53703, 20, (608,))]),
    (
        "CO",
        5.9,
        [("Denver", 65, 80202, 50, (303, 720)), ("Boulder", 15, 80301, 5, (303,)), ("Colorado Springs", 20, 80903, 30, (719,))],
    ),
    ("MN", 5.7, [("Minneapolis", 65, 55401, 50, (612,)), ("St. Paul", 35, 55101, 30, (651,))]),
    ("SC", 5.4, [("Charleston", 50, 29401, 20, (843,)), ("Columbia", 50, 29201, 30, (803,))]),
    ("AL", 5.1, [("Birmingham", 55, 35203, 30, (205,)), ("Huntsville", 45, 35801, 20, (256,))]),
    ("LA", 4.6, [("New Orleans", 60, 70112, 20, (504,)), ("Baton Rouge", 40, 70801, 20, (225,))]),
    ("KY", 4.5, [("Louisville", 60, 40202, 30, (502,)), ("Lexington", 40, 40507, 20, (859,))]),
    ("OR", 4.2, [("Portland", 80, 97201, 30, (503, 971)), ("Eugene", 20, 97401, 5, (541,))]),
    ("OK", 4.0, [("Oklahoma City", 55, 73102, 40, (405,)), ("Tulsa", 45, 74103, 30, (918,))]),
    ("CT", 3.6, [("Stamford", 50, 6901, 5, (203,)), ("Hartford", 50, 6103, 10, (860,))]),
    ("UT", 3.4, [("Salt Lake City", 70, 84101, 20, (801, 385)), ("Provo", 30, 84601, 5, (801,))]),
    ("IA", 3.2, [("Des Moines", 100, 50309, 20, (515,))]),
    ("NV", 3.2, [("Las Vegas", 75, 89101, 50, (702, 725)), ("Reno", 25, 89501, 20, (775,))]),
    ("AR", 3.1, [("Little Rock", 100, 72201, 20, (501,))]),
    ("MS", 2.9, [("Jackson", 100, 39201, 10, (601,))]),
    ("KS", 2.9, [("Wichita", 50, 67202, 30, (316,)), ("Overland Park", 50, 66204, 20, (913,))]),
    ("NM", 2.1, [("Albuquerque", 100, 87102, 20, (505,))]),
    ("NE", 2.0, [("Omaha", 100, 68102, 30, (402,))]),
    ("ID", 2.0, [("Boise", 100, 83702, 10, (208,))]),
    ("WV", 1.8, [("Charleston", 100, 25301, 10, (304,))]),
    ("HI", 1.4, [("Honolulu", 100, 96813, 10, (808,))]),
    ("NH", 1.4, [("Manchester", 100, 3101, 5, (603,))]),
    ("ME", 1.4, [("Portland", 100, 4101, 5, (207,))]),
    ("MT", 1.1, [("Billings", 100, 59101, 5, (406,))]),
    ("RI", 1.1, [("Providence", 100, 2903, 5, (401,))]),
    ("DE", 1.0, [("Wilmington", 100, 19801, 5, (302,))]),
    ("SD", 0.9, [("Sioux Falls", 100, 57104, 5, (605,))]),
    ("ND", 0.8, [("Fargo", 100, 58102, 3, (701,))]),
    ("AK", 0.7, [("Anchorage", 100, 99501, 10, (907,))]),
    ("DC", 0.7, [("Washington", 100, 20001, 30, (202,))]),
    ("VT", 0.65, [("Burlington", 100, 5401, 2, (802,))]),
    ("WY", 0.58, [("Cheyenne", 100, 82001, 5, (307,))]),
]


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words("""James Mary Michael Patricia Robert Jennifer John Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret
Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa
Timothy Deborah Ronald Stephanie George Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy Jacob Kathleen
Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin Nicole Scott Samantha
Brandon Katherine Benjamin Christine Samuel Helen Gregory Debra Alexander Rachel Patrick Carolyn Frank Janet
Raymond Maria Jack Olivia Dennis Heather Jerry Diane Tyler Julie Aaron Joyce Jose Victoria Adam Ruth Nathan Virginia
Henry Lauren Zachary Kelly Douglas Christina Peter Joan Kyle Evelyn Noah Judith Ethan Andrea Jeremy Hannah Walter
Megan Christian Cheryl Keith Jacqueline Roger Martha Terry Madison Austin Teresa Sean Gloria Gerald Sara Carl Janice
Harold Ann Dylan Kathryn Arthur Abigail Lawrence Sophia Jordan Frances Jesse Jean Bryan Alice Billy Judy Bruce
Isabella Gabriel Julia Joe Grace Logan Amber Alan Denise Juan Danielle Albert Marilyn Willie Beverly Elijah Charlotte
Wayne Natalie Randy Theresa Vincent Diana Mason Brittany Roy Doris Ralph Kayla Bobby Alexis Russell Lori Priya Wei
Carlos Mei Luis Fatima Omar Aisha Raj Ana Hiroshi Sofia Ahmed Ling Diego Elena Arjun Yuki Miguel Camila""")

LAST_NAMES = _words("""Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris
Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel
Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales
Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole
Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson
Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson
Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver
Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Peters Santos Hart Bradley Knight Shah
Wang Li Zhang Liu Singh Kumar Yang Huang Wu Zhou Sato Tanaka Park Choi Cohen Schwartz Novak Kowalski Rossi Costa""")

# Company names: prefix + stem (one word) + suffix; each combination appears once per domain ending.
NAME_PREFIXES = _words("""North South East West Blue Silver Bright Red Summit Iron Cedar Granite Clear Swift True Prime
Apex Harbor River Pine Oak Maple Golden Eagle Falcon Pioneer Liberty Atlas Nova Vertex Lumen Beacon Evergreen
Highland Lake Meadow Sky Sun Bay Coast Frontier Keystone Metro Orbit Pacific Atlantic Quantum Rapid Sterling Union
Vista Zenith Cobalt Onyx Aspen Willow Copper Amber Crimson Indigo""")
NAME_STEMS = _words("""point field bridge path wave line gate view peak ridge rock wood brook forge mark light star port
haven shore spring stream vale well wind side way hill crest grove land core loop leaf""")
NAME_SUFFIXES = [
    "Group",
    "Partners",
    "Solutions",
    "Systems",
    "Labs",
    "Works",
    "Holdings",
    "Industries",
    "Ventures",
    "Technologies",
    "Analytics",
    "Networks",
    "Digital",
    "Global",
    "Dynamics",
    "Consulting",
    "Capital",
    "Services",
    "Software",
    "Health",
    "Logistics",
    "Media",
    "Energy",
    "Foods",
    "Co",
    "Inc",
    "Corp",
]
DOMAIN_ENDINGS = [".com", ".io", ".co", ".net", ".ai", ".us", ".biz", ".tech", ".group", ".app"]
# A multiplier coprime with the number of combinations spreads consecutive companies over the names.
NAME_MULTIPLIER = 7_919

PHONE_SUBSCRIBERS = 800 * 10_000  # exchanges 200-999, lines 0000-9999
PHONE_MULTIPLIER = 2_654_435_761 % PHONE_SUBSCRIBERS  # coprime with PHONE_SUBSCRIBERS (odd, not a multiple of 5)

PERSON_COLUMNS = (
    *LEAD_FIELDS,
    "has_email",
    "has_phone",
    "has_linkedin",
    "email_verified",
    "score",
    "dedup_hash",
    "created_at",
    "company_id",
)
COMPANY_COLUMNS = ("name", "domain", "size", "industry", "city", "state", "country")


def _p(weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum()


def _obj(values) -> np.ndarray:
    values = list(values)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


INDUSTRY_NAMES = _obj(name for name, _ in INDUSTRIES)
INDUSTRY_P = _p([weight for _, weight in INDUSTRIES])
SIZE_VALUES = _obj(str(band) for band, _, _ in SIZES)
SIZE_P = _p([weight for _, weight, _ in SIZES])
SIZE_PEOPLE_LOW = np.array([max(1, people // 2) for _, _, people in SIZES])
SIZE_PEOPLE_HIGH = np.array([2 * people - max(1, people // 2) for _, _, people in SIZES])  # mean = people
SENIORITY_VALUES = _obj(str(s) for s in SENIORITIES)
SENIORITY_P = [_p(SENIORITY_WEIGHTS[band]) for band, _, _ in SIZES]
SENIORITY_POINTS = np.array([SCORE_SENIORITY[s] for s in SENIORITIES])
TITLE_VALUES = _obj(title for s in SENIORITIES for title in TITLES[s])
TITLE_COUNT = np.array([len(TITLES[s]) for s in SENIORITIES])
TITLE_OFFSET = np.concatenate([[0], np.cumsum(TITLE_COUNT)[:-1]])

CITY_NAMES = _obj(city[0] for _, _, cities in STATES for city in cities)
CITY_STATES = _obj(state for state, _, cities in STATES for _ in cities)
CITY_P = _p([population * share / sum(c[1] for c in cities) for _, population, cities in STATES for _, share, *_ in cities])
CITY_ZIP = np.array([city[2] for _, _, cities in STATES for city in cities])
CITY_ZIP_SPAN = np.array([city[3] for _, _, cities in STATES for city in cities])
CITY_AREA_CODES = [city[4] for _, _, cities in STATES for city in cities]
AREA_CODE_COUNT = np.array([len(codes) for codes in CITY_AREA_CODES])
AREA_CODE_OFFSET = np.concatenate([[0], np.cumsum(AREA_CODE_COUNT)[:-1]])
AREA_CODE_VALUES = np.array([code for codes in CITY_AREA_CODES for code in codes])
ZIP_TEXT = _obj(f"{z:05d}" for z in range(100_000))


def _zipf(n: int) -> np.ndarray:
    return _p(1.0 / (np.arange(n) + 8.0))  # the common names are common, the tail is long


FIRST_VALUES, FIRST_P = _obj(FIRST_NAMES), _zipf(len(FIRST_NAMES))
LAST_VALUES, LAST_P = _obj(LAST_NAMES), _zipf(len(LAST_NAMES))
FIRST_LOWER, LAST_LOWER = _obj(n.lower() for n in FIRST_NAMES), _obj(n.lower() for n in LAST_NAMES)
NAME_COMBINATIONS = len(NAME_PREFIXES) * len(NAME_STEMS) * len(NAME_SUFFIXES)


def _rng(stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([SEED, stream, index])


# ---------------------------------------------------------------------------
# Companies


@lru_cache(maxsize=8)
def company_block(block: int) -> dict[str, np.ndarray]:
    """Companies block*COMPANY_BLOCK .. (block+1)*COMPANY_BLOCK-1, the same on every run."""
    rng = _rng(1, block)
    n = COMPANY_BLOCK
    size = rng.choice(len(SIZES), size=n, p=SIZE_P)
    people = rng.integers(SIZE_PEOPLE_LOW[size], SIZE_PEOPLE_HIGH[size] + 1)
    industry = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_P)
    city = rng.choice(len(CITY_NAMES), size=n, p=CITY_P)

    index = np.arange(block * n, (block + 1) * n, dtype=np.int64)
    combination = (index * NAME_MULTIPLIER) % NAME_COMBINATIONS
    cycle = index // NAME_COMBINATIONS
    prefix = combination // (len(NAME_STEMS) * len(NAME_SUFFIXES))
    stem = combination // len(NAME_SUFFIXES) % len(NAME_STEMS)
    suffix = combination % len(NAME_SUFFIXES)
    names, domains = [], []
    for p, s, x, c in zip(prefix.tolist(), stem.tolist(), suffix.tolist(), cycle.tolist(), strict=True):
        word = NAME_PREFIXES[p] + NAME_STEMS[s]
        names.append(f"{word} {NAME_SUFFIXES[x]}")
        ending = DOMAIN_ENDINGS[c] if c < len(DOMAIN_ENDINGS) else f"{c}.com"
        domains.append(f"{word}{NAME_SUFFIXES[x]}".lower() + ending)
    return {"size": size, "people": people, "industry": industry, "city": city, "name": _obj(names), "domain": _obj(domains)}


def companies(start: int, stop: int) -> dict[str, np.ndarray]:
    """Companies start..stop-1 as column arrays."""
    parts = []
    for block in range(start // COMPANY_BLOCK, (stop - 1) // COMPANY_BLOCK + 1):
        lo = max(start - block * COMPANY_BLOCK, 0)
        hi = min(stop - block * COMPANY_BLOCK, COMPANY_BLOCK)
        parts.append({key: values[lo:hi] for key, values in company_block(block).items()})
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


class Layout:
    """Which company each person slot belongs to: company j holds `people` consecutive slots."""

    def __init__(self):
        self.ends = np.zeros(0, dtype=np.int64)  # ends[j]: first slot after company j

    def _cover(self, slots: int) -> None:
        while not len(self.ends) or self.ends[-1] < slots:
            block = len(self.ends) // COMPANY_BLOCK
            base = self.ends[-1] if len(self.ends) else 0
            self.ends = np.concatenate([self.ends, base + np.cumsum(company_block(block)["people"])])

    def company_of_slots(self, start: int, stop: int) -> np.ndarray:
        self._cover(stop)
        return np.searchsorted(self.ends, np.arange(start, stop), side="right")


def chunk_companies(layout: Layout, chunk: int) -> np.ndarray:
    """Company index of each person of a chunk: the layout, shuffled within each window."""
    start = chunk * PEOPLE_CHUNK
    slots = layout.company_of_slots(start, start + PEOPLE_CHUNK).reshape(-1, SHUFFLE_WINDOW)
    return _rng(2, chunk).permuted(slots, axis=1).reshape(-1)


def companies_needed(layout: Layout, people: int) -> int:
    """How many companies the first `people` people reference (windows only move forwards)."""
    if people <= 0:
        return 0
    chunk = (people - 1) // PEOPLE_CHUNK
    window_start = (people - 1) // SHUFFLE_WINDOW * SHUFFLE_WINDOW
    assigned = chunk_companies(layout, chunk)
    return int(assigned[window_start - chunk * PEOPLE_CHUNK : people - chunk * PEOPLE_CHUNK].max()) + 1


def company_rows(start: int, stop: int) -> str:
    c = companies(start, stop)
    city = c["city"]
    columns = [
        c["name"],
        c["domain"],
        SIZE_VALUES[c["size"]],
        INDUSTRY_NAMES[c["industry"]],
        CITY_NAMES[city],
        CITY_STATES[city],
        np.full(len(city), "US", dtype=object),
    ]
    return "\n".join(map("\t".join, zip(*(col.tolist() for col in columns), strict=True))) + "\n"


# ---------------------------------------------------------------------------
# People


def people_rows(layout: Layout, chunk: int, lo: int, hi: int, company_pk: np.ndarray, pk_base: int, now: dt.datetime) -> str:
    """COPY text for people chunk*PEOPLE_CHUNK+lo .. chunk*PEOPLE_CHUNK+hi-1.

    company_pk[j - pk_base] is the primary key of company j.

    Every random draw is made for the whole chunk, in a fixed order, so a
    person is the same whichever slice of the chunk a run needs."""
    rng = _rng(3, chunk)
    n = PEOPLE_CHUNK
    company_index = chunk_companies(layout, chunk)
    first_company = int(company_index.min())
    comp = companies(first_company, int(company_index.max()) + 1)
    local = company_index - first_company

    size = comp["size"][local]
    seniority = np.empty(n, dtype=np.int64)
    for band in range(len(SIZES)):
        mask = size == band
        seniority[mask] = rng.choice(len(SENIORITIES), size=int(mask.sum()), p=SENIORITY_P[band])
    title = TITLE_OFFSET[seniority] + (rng.random(n) * TITLE_COUNT[seniority]).astype(np.int64)
    first = rng.choice(len(FIRST_NAMES), size=n, p=FIRST_P)
    last = rng.choice(len(LAST_NAMES), size=n, p=LAST_P)
    city = np.where(rng.random(n) < HOME_CITY_SHARE, comp["city"][local], rng.choice(len(CITY_NAMES), size=n, p=CITY_P))
    zip_code = CITY_ZIP[city] + (rng.random(n) * CITY_ZIP_SPAN[city]).astype(np.int64)
    area_code = AREA_CODE_VALUES[AREA_CODE_OFFSET[city] + (rng.random(n) * AREA_CODE_COUNT[city]).astype(np.int64)]
    has_phone = rng.random(n) < PHONE_SHARE
    has_linkedin = rng.random(n) < LINKEDIN_SHARE
    verified = rng.random(n) < VERIFIED_SHARE
    # Skewed towards recent records, as a growing database is.
    age_seconds = (rng.random(n) ** 1.4 * HISTORY_DAYS * 86_400).astype(np.int64)

    index = np.arange(chunk * n, (chunk + 1) * n, dtype=np.int64)
    # A bijection of the index onto exchanges 200-999 and lines: no two people share a number
    # in one area code below 8M people.
    subscriber = (index * PHONE_MULTIPLIER + 1_234_567) % PHONE_SUBSCRIBERS
    score = SCORE_EMAIL + SCORE_VERIFIED * verified + SCORE_PHONE * has_phone + SCORE_LINKEDIN * has_linkedin
    score = score + SENIORITY_POINTS[seniority]

    part = slice(lo, hi)
    count = hi - lo
    index, local, first, last = index[part], local[part], first[part], last[part]
    pks = company_pk[company_index[part] - pk_base].astype(str).tolist()
    has_phone, has_linkedin, verified = has_phone[part], has_linkedin[part], verified[part]
    city, subscriber, area_code = city[part], subscriber[part], area_code[part]

    domains = comp["domain"][local].tolist()
    first_lower, last_lower = FIRST_LOWER[first].tolist(), LAST_LOWER[last].tolist()
    ids = index.tolist()
    emails = [f"{f}.{la}{i}@{d}" for f, la, i, d in zip(first_lower, last_lower, ids, domains, strict=True)]
    exchange = (200 + subscriber // 10_000).tolist()
    line = (subscriber % 10_000).tolist()
    phones = [
        f"+1{a}{e}{x:04d}" if p else "" for p, a, e, x in zip(has_phone.tolist(), area_code.tolist(), exchange, line, strict=True)
    ]
    linkedin = [
        f"https://www.linkedin.com/in/{f}-{la}-{i}" if h else ""
        for h, f, la, i in zip(has_linkedin.tolist(), first_lower, last_lower, ids, strict=True)
    ]
    hashes = [dedup_hash(e, p) for e, p in zip(emails, phones, strict=True)]
    created = np.datetime64(now.replace(tzinfo=None), "s") - age_seconds[part].astype("timedelta64[s]")
    created = np.char.add(np.datetime_as_string(created, unit="s"), "+00").tolist()
    flags = np.array(["f", "t"], dtype=object)

    columns = [
        FIRST_VALUES[first].tolist(),
        LAST_VALUES[last].tolist(),
        emails,
        phones,
        TITLE_VALUES[title[part]].tolist(),
        SENIORITY_VALUES[seniority[part]].tolist(),
        comp["name"][local].tolist(),
        domains,
        SIZE_VALUES[size[part]].tolist(),
        INDUSTRY_NAMES[comp["industry"][local]].tolist(),
        CITY_NAMES[city].tolist(),
        CITY_STATES[city].tolist(),
        ZIP_TEXT[zip_code[part]].tolist(),
        ["US"] * count,
        linkedin,
        ["t"] * count,
        flags[has_phone.astype(np.int64)].tolist(),
        flags[has_linkedin.astype(np.int64)].tolist(),
        flags[verified.astype(np.int64)].tolist(),
        score[part].astype(str).tolist(),
        hashes,
        created,
        pks,
    ]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


# ---------------------------------------------------------------------------
# Loading


class DemoDataError(RuntimeError):
    """The lead database holds rows the generator did not write, so "add what is missing" cannot work."""


def _dedup_unique():
    return next(c for c in Person._meta.constraints if c.name == PERSON_DEDUP_UNIQUE)


def fill_lead_database(target: int, progress=lambda message: None) -> tuple[int, int]:
    """Add the people (and their companies) missing to reach `target`; returns (companies added, people added)."""
    layout = Layout()
    have_people = Person.objects.count()
    have_companies = Company.objects.count()
    need_companies = companies_needed(layout, target)
    added_companies = 0
    if need_companies > have_companies:
        added_companies = _copy_companies(have_companies, need_companies, progress)
    if target <= have_people:
        return added_companies, 0

    first_company = int(chunk_companies(layout, have_people // PEOPLE_CHUNK).min())
    company_pk = _company_pks(first_company, need_companies)
    adding = target - have_people
    rebuild = adding >= DROP_INDEXES_MIN_PEOPLE and adding >= have_people
    now = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    columns = ", ".join(PERSON_COLUMNS)
    # One transaction: a failed or interrupted load leaves neither half the people nor a table
    # without its indexes.
    with transaction.atomic(), connection.cursor() as cursor:
        # Check each row's company as it arrives rather than queueing millions of deferred checks,
        # which would also forbid CREATE INDEX later in the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if rebuild:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            progress("Dropping the search indexes and the dedup-hash constraint of leads_person for the load")
            with connection.schema_editor(atomic=False) as editor:
                for index in Person._meta.indexes:
                    editor.remove_index(Person, index)
                editor.remove_constraint(Person, _dedup_unique())
        # The trigger that keeps PersonTitle would hold every copied row in a transition table (gigabytes at 10M
        # people): the loader adds the titles it writes itself, from the generator's short list of them.
        cursor.execute(f"ALTER TABLE leads_person DISABLE TRIGGER {PERSON_TITLES_ON_INSERT}")
        psycopg_cursor = cursor.cursor
        writer = QueuedLibpqWriter(psycopg_cursor)  # formats the next chunk while the server stores this one
        with psycopg_cursor.copy(f"COPY leads_person ({columns}) FROM STDIN", writer=writer) as copy:
            for chunk in range(have_people // PEOPLE_CHUNK, (target - 1) // PEOPLE_CHUNK + 1):
                base = chunk * PEOPLE_CHUNK
                lo, hi = max(have_people - base, 0), min(target - base, PEOPLE_CHUNK)
                copy.write(people_rows(layout, chunk, lo, hi, company_pk, first_company, now))
                progress(f"  people {base + hi:,}/{target:,} ({time.monotonic() - started:.1f} s)")
        progress(f"  people stored ({time.monotonic() - started:.1f} s)")
        cursor.execute(
            "INSERT INTO leads_persontitle (title) SELECT unnest(%s::text[]) ON CONFLICT (title) DO NOTHING",
            [sorted(set(TITLE_VALUES.tolist()))],
        )
        cursor.execute(f"ALTER TABLE leads_person ENABLE TRIGGER {PERSON_TITLES_ON_INSERT}")
        if rebuild:
            progress("Recreating the search indexes and the dedup-hash constraint of leads_person")
            with connection.schema_editor(atomic=False) as editor:
                for index in Person._meta.indexes:
                    editor.add_index(Person, index)
                editor.add_constraint(Person, _dedup_unique())
            progress(f"  indexes rebuilt ({time.monotonic() - started:.1f} s)")
    with connection.cursor() as cursor:
        # VACUUM also fills the visibility map, so that counts can be answered by index-only scans;
        # it cannot run inside a transaction (a test's), where statistics are all we can refresh.
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        cursor.execute(f"{verb} leads_company")
        cursor.execute(f"{verb} leads_person")
    return added_companies, adding


def _copy_companies(start: int, stop: int, progress) -> int:
    columns = ", ".join(COMPANY_COLUMNS)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.copy(f"COPY leads_company ({columns}) FROM STDIN") as copy,
    ):
        for block_start in range(start, stop, COMPANY_BLOCK):
            copy.write(company_rows(block_start, min(block_start + COMPANY_BLOCK, stop)))
    progress(f"  companies {stop:,}")
    return stop - start


def _company_pks(start: int, stop: int) -> np.ndarray:
    """Primary keys of companies start..stop-1, found by their domains (positions: index - start)."""
    pks = np.zeros(stop - start, dtype=np.int64)
    with connection.cursor() as cursor:
        for block_start in range(start, stop, COMPANY_BLOCK):
            domains = companies(block_start, min(block_start + COMPANY_BLOCK, stop))["domain"]
            cursor.execute("SELECT domain, id FROM leads_company WHERE domain = ANY(%s)", [domains.tolist()])
            found = dict(cursor.fetchall())
            missing = [d for d in domains.tolist() if d not in found]
            if missing:
                raise DemoDataError(
                    f"leads_company lacks {len(missing)} generated companies (e.g. {missing[0]}): it holds rows "
                    "seed_demo did not write, or some were deleted; seed an empty lead database instead."
                )
            pks[block_start - start : block_start - start + len(domains)] = [found[d] for d in domains.tolist()]
    return pks
