"""How long the fuzzy-duplicate scan of the lead database takes, and how many planted duplicates it finds.

    .venv/bin/python bench/duplicates.py [--people 1000000] [--planted-share 0.01]

Creates the scratch database `cursive_bench_duplicates` on the project's server, fills it with the demo lead
database (leads.demo, the real COPY loader), plants duplicates of a share of the people with COPY, a third each
of the kinds the rule must catch (a swap of two letters in the last name; a nickname; the company name with
"Incorporated" and no domain), each with its own email (another dedup identity), then times
`leads.duplicates.duplicates_scan(kind="person")` and prints one JSON object: the seconds, the pairs found, how
many of the planted pairs are among them, and the pairs found between generated people (namesakes at one
company: the generator draws names from a few hundred, so some people share a first and last name at one
company, which a name + company rule cannot tell apart).

`measure_duplicate_scan(people)` does the same in the database Django is connected to (bench/enrichment.py calls
it inside its own scratch database): it tops the lead database up to `people`, plants, scans, measures, and then
removes the planted people and every pair, leaving the people as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from scratch import log, run_context, scratch_database

SCRATCH_DATABASE = "cursive_bench_duplicates"
PLANTED_SHARE = 0.01
PLANTED_DOMAIN = "planted-duplicate.example"
PLANTED_KINDS = ("last_name_swap", "nickname", "company_incorporated_no_domain")


def _swap(word: str) -> str:
    """Two neighbouring letters swapped in the middle of the word (Johnson / Jonhson)."""
    if len(word) < 4:
        return word + word[-1]
    i = len(word) // 2 - 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _nickname(first: str) -> str | None:
    from leads.similarity import _name_family, fold

    others = sorted(name for name in _name_family(fold(first)) if name != fold(first) and len(name) > 1)
    return others[0].capitalize() if others else None


def plant_duplicates(share: float) -> list[tuple[int, int]]:
    """Copies of every (1/share)-th person with one realistic difference each, written with COPY; returns the
    (original id, copy id) pairs."""
    from django.db import connection, transaction

    from leads.normalize import dedup_hash

    step = max(1, round(1 / share))
    columns = ["first_name", "last_name", "company_name", "company_domain", "email", "phone", "title", "seniority"]
    columns += ["company_size", "industry", "city", "state", "zip", "country", "linkedin_url"]
    flags = ["has_email", "has_phone", "has_linkedin", "email_verified", "score", "dedup_hash", "created_at"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(columns)} FROM leads_person WHERE id %% %s = 0 ORDER BY id", [step])  # noqa: S608
        originals = cursor.fetchall()
        copies = []
        for n, (pk, *values) in enumerate(originals):
            row = dict(zip(columns, values, strict=True))
            kind = n % 3
            if kind == 0:
                row["last_name"] = _swap(row["last_name"])
            elif kind == 1:
                row["first_name"] = _nickname(row["first_name"]) or _swap(row["first_name"])
            else:
                row["company_name"], row["company_domain"] = f"{row['company_name']} Incorporated", ""
            row["email"], row["phone"], row["linkedin_url"] = f"planted{n}@{PLANTED_DOMAIN}", "", ""
            copies.append((pk, row))
        cursor.execute("SELECT max(id) FROM leads_person")
        next_id = cursor.fetchone()[0] + 1
        with cursor.cursor.copy(f"COPY leads_person (id, {', '.join(columns + flags)}) FROM STDIN") as copy:
            for offset, (_, row) in enumerate(copies):
                extra = [True, False, False, False, 40, dedup_hash(row["email"], ""), "2026-01-01T00:00:00+00:00"]
                copy.write_row([next_id + offset, *[row[c] for c in columns], *extra])
        cursor.execute("SELECT setval(pg_get_serial_sequence('leads_person', 'id'), %s)", [next_id + len(copies)])
        cursor.execute("ANALYZE leads_person")
    return [(pk, next_id + offset) for offset, (pk, _) in enumerate(copies)]


def remove_planted() -> None:
    from leads.models import DuplicatePair, Person

    DuplicatePair.objects.filter(kind=DuplicatePair.Kind.PERSON).delete()
    Person.objects.filter(email__endswith=f"@{PLANTED_DOMAIN}").delete()


def measure_duplicate_scan(people: int, planted_share: float = PLANTED_SHARE) -> dict:
    """Top the lead database up to `people`, plant duplicates, time the scan; leaves the people as they were."""
    from leads.demo import fill_lead_database
    from leads.duplicates import duplicates_scan
    from leads.models import DuplicatePair, Person
    from leads.similarity import is_same_person

    fill_lead_database(people, progress=log)
    planted = plant_duplicates(planted_share)
    log(f"Planted {len(planted):,} duplicates")
    try:
        started = time.perf_counter()
        result = duplicates_scan(kind="person")
        seconds = time.perf_counter() - started
        log(f"Scan: {seconds:.1f} s, {result.found:,} pairs")
        found = set(DuplicatePair.objects.filter(kind=DuplicatePair.Kind.PERSON).values_list("low_id", "high_id"))
        planted_found = sum(1 for pair in planted if pair in found)
        missed_by_kind = {kind: 0 for kind in PLANTED_KINDS}
        for n, pair in enumerate(planted):
            if pair not in found:
                missed_by_kind[PLANTED_KINDS[n % 3]] += 1
        # A planted copy the rule itself would not call the same person (a nickname the dataset lacks, a short
        # name the swap pushes below the threshold) cannot count against the scan.
        rows = Person.objects.in_bulk([pk for pair in planted for pk in pair])
        judged_same = sum(1 for a, b in planted if is_same_person(rows[a], rows[b]))
        return {
            "people": Person.objects.count(),
            "planted": len(planted),
            "planted_judged_same_by_the_rule": judged_same,
            "planted_found": planted_found,
            "planted_found_share_of_judged_same": round(planted_found / judged_same, 4) if judged_same else None,
            "planted_missed_by_kind": missed_by_kind,
            "pairs_found": result.found,
            "pairs_found_between_generated_people": result.found - planted_found,
            "scan_seconds": round(seconds, 2),
        }
    finally:
        remove_planted()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--planted-share", type=float, default=PLANTED_SHARE)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with scratch_database(SCRATCH_DATABASE, debug=False):
        started = time.perf_counter()
        figures = measure_duplicate_scan(args.people, args.planted_share)
        figures["total_seconds_with_load"] = round(time.perf_counter() - started, 1)
    json.dump({"duplicate_scan": figures, "context": run_context(load_before)}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
