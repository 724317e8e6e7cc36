"""How fast batch enrichment matches a buyer's list against the lead database, and how much memory it takes.

    .venv/bin/python bench/enrichment.py [--people 1000000] [--rows 10000,100000] [--chunk-rows N] [--seed 7]

Creates `cursive_bench_enrichment` on the project's database server (dropping a leftover one first), migrates
it and fills the lead database with `leads.demo.fill_lead_database` (the COPY loader of `seed_demo`). For each
list size it writes a CSV in a temp dir from people sampled out of that database, mixed as buyers' lists are:

  55% email (a tenth of them in upper case), 15% phone only (formatted "(212) 555-0101"), 5% LinkedIn URL only
  (another form of the URL), 10% first + last name + company website, 5% first + last name + company name,
  10% strangers (addresses nobody has),

then, in a child process of its own (`manage.py shell -c`, DATABASE_URL pointing at the scratch database, so the
memory measured is the worker's alone), runs what a worker runs from upload to downloadable file:
`enrichment_create` (store + check), `enrichment_match`, `enrichment_confirm`, `enrichment_build_result`.

  match_rows_per_second:  rows / seconds of enrichment_match;
  end_to_end_seconds:     from the start of enrichment_create to the result file stored;
  peak_rss_mb:            the child's peak resident memory (VmHWM), rss_before_mb before any of it,
                          peak_rss_matching_mb the peak once matching is over (before confirmation);
  counts:                 what the preview said (matched by method, owned, billable, quote) and what was charged.

Then the time to list fuzzy-duplicate candidates across the same lead database (bench/duplicates.py's
`measure_duplicate_scan`: duplicates planted, the scan timed, how many of them it found).

Also reported: the size of the indexes enrichment added to leads_person / leads_company at this size, and the
indexes PostgreSQL uses for one chunk's lookups. One JSON object goes to stdout; progress to stderr. The scratch
database and the temp dir are removed at the end: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from duplicates import measure_duplicate_scan
from scratch import ROOT, database_url, log, run_context, scratch_database, server_version

SCRATCH_DATABASE = "cursive_bench_enrichment"
CHILD_MARKER = "BENCH_ENRICHMENT_RESULT "
HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Website", "LinkedIn", "Notes"]
ADDED_INDEXES = ["person_phone_idx", "person_linkedin_key_idx", "company_name_trgm", "company_lower_name_idx"]

CHILD_CODE = """
import json, os, time
import psutil

def peak_kb():
    # VmHWM, this process's own peak: ru_maxrss would carry the parent's peak over fork and exec.
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

from django.core.files import File
from accounts.models import User, Workspace
from enrichment.models import Enrichment
from enrichment.services import enrichment_build_result, enrichment_confirm, enrichment_create, enrichment_match
workspace = Workspace.objects.get(pk=int(os.environ["BENCH_WORKSPACE_ID"]))
user = User.objects.get(pk=int(os.environ["BENCH_USER_ID"]))
before = psutil.Process().memory_info().rss
t0 = time.perf_counter()
with open(os.environ["BENCH_FILE"], "rb") as handle:
    enrichment = enrichment_create(workspace=workspace, file=File(handle, name="list.csv"), mapping=None, created_by=user)
t1 = time.perf_counter()
enrichment_match(enrichment_id=enrichment.pk)
t2 = time.perf_counter()
matched_maxrss = peak_kb()
enrichment_confirm(workspace=workspace, enrichment_id=enrichment.pk, actor=user)
t3 = time.perf_counter()
enrichment_build_result(enrichment_id=enrichment.pk)
t4 = time.perf_counter()
print("BENCH_ENRICHMENT_RESULT " + json.dumps({"id": enrichment.pk, "rss_before_bytes": before,
      "create": t1 - t0, "match": t2 - t1, "confirm": t3 - t2, "result": t4 - t3, "matched_maxrss_kb": matched_maxrss,
      "peak_kb": peak_kb()}), flush=True)
"""


def sample_people(count: int, seed: int) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute(
            "SELECT email, phone, linkedin_url, first_name, last_name, company_name, company_domain "
            "FROM leads_person ORDER BY random() LIMIT %s",
            [count],
        )
        return cursor.fetchall()


def phone_text(e164: str) -> str:
    digits = e164.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def generate(path: Path, rows: int, people: list[tuple], seed: int) -> dict:
    rng = random.Random(seed)
    with_phone = [p for p in people if p[1]]
    with_linkedin = [p for p in people if p[2]]
    mix = {"email": 0, "phone": 0, "linkedin": 0, "name_domain": 0, "name_company": 0, "stranger": 0}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            roll = rng.random()
            email, phone, linkedin, first, last, company, domain = people[i % len(people)]
            if roll < 0.55:
                mix["email"] += 1
                writer.writerow(["", "", email.upper() if i % 10 == 0 else email, "", "", "", "", f"row {i}"])
            elif roll < 0.70:
                mix["phone"] += 1
                writer.writerow(["", "", "", phone_text(with_phone[i % len(with_phone)][1]), "", "", "", ""])
            elif roll < 0.75:
                mix["linkedin"] += 1
                url = with_linkedin[i % len(with_linkedin)][2].replace("https://www.", "http://") + "/"
                writer.writerow(["", "", "", "", "", "", url, ""])
            elif roll < 0.85:
                mix["name_domain"] += 1
                writer.writerow([first, last, "", "", "", f"https://www.{domain}/", "", ""])
            elif roll < 0.90:
                mix["name_company"] += 1
                writer.writerow([first, last, "", "", company, "", "", ""])
            else:
                mix["stranger"] += 1
                writer.writerow(["Nobody", f"Known{i}", f"stranger{i}@nowhere-{seed}.example", "", "", "", "", ""])
    return mix


def run_child(env: dict) -> dict:
    import threading

    import psutil

    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", CHILD_CODE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
    )
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            watched = psutil.Process(process.pid)
            while not done.is_set():
                peak = max(peak, watched.memory_info().rss)
                time.sleep(0.02)
        except psutil.Error:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"the enrichment child failed ({process.returncode}):\n{output[-3000:]}")
    lines = [line for line in output.splitlines() if line.startswith(CHILD_MARKER)]
    result = json.loads(lines[-1][len(CHILD_MARKER) :])
    result["sampled_peak_bytes"] = peak
    return result


def index_sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s) OR relname IN "
            "('leads_person', 'leads_company', 'person_score_idx', 'person_dedup_hash_unique')",
            [ADDED_INDEXES],
        )
        sizes = {name: round(size / 1_048_576, 1) for name, size in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM leads_company")
        companies = cursor.fetchone()[0]
    return {"mb": sizes, "companies": companies}


def lookup_plans(people: list[tuple]) -> dict:
    """The indexes PostgreSQL picks for one chunk's lookups (the SQL of enrichment.services, 5,000 keys)."""
    from django.db import connection

    from enrichment import services
    from leads import normalize
    from leads.similarity import company_key

    sample = people[:5000]
    keys = {
        "email": (services._BY_HASH_SQL, [[normalize.dedup_hash(p[0], "") for p in sample]]),
        "phone": (services._BY_PHONE_SQL, [[p[1] for p in sample if p[1]]]),
        "linkedin": (services._by_linkedin_sql(), [[normalize.linkedin_key(p[2]) for p in sample if p[2]]]),
        "name_domain": (services._BY_DOMAIN_SQL, [[p[6] for p in sample[:1000]], [p[4].lower() for p in sample[:1000]]]),
        "name_company": (
            services._BY_COMPANY_EXACT_SQL,
            [[p[5].lower() for p in sample[:500]], [p[4].lower() for p in sample[:500]]],
        ),
        "name_similar_company": (
            services._BY_COMPANY_NAME_SQL,
            [[company_key(p[5]) + "s" for p in sample[:250]], [p[4].lower() for p in sample[:250]]],
        ),
    }
    plans = {}
    with connection.cursor() as cursor:
        for kind, (sql, values) in keys.items():
            query = sql.format(columns=services._PERSON_COLUMNS, reachable=services._REACHABLE, keys=services._KEYS)
            cursor.execute("SET pg_trgm.word_similarity_threshold = %s", [services.COMPANY_WORD_SIMILARITY])
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, [json.dumps(column) for column in values])
            plan = cursor.fetchone()[0][0]
            indexes: set[str] = set()

            def walk(node, found=indexes):
                if "Index Name" in node:
                    found.add(node["Index Name"])
                for child in node.get("Plans", []):
                    walk(child)

            walk(plan["Plan"])
            plans[kind] = {"keys": len(values[0]), "ms": round(plan["Execution Time"], 1), "indexes": sorted(indexes)}
    return plans


def bench_size(rows: int, *, workdir: Path, people: list[tuple], env: dict, args) -> dict:
    from accounts.services import user_create, workspace_create
    from credits.services import credits_adjust
    from enrichment.models import Enrichment

    n = len(list(workdir.glob("*.csv")))
    user = user_create(email=f"bench-enrich-{rows}-{n}@bench.example", password="bench-password-123")
    workspace = workspace_create(name=f"Enrichment bench {rows}", owner=user)
    credits_adjust(workspace=workspace, amount="1000000", actor=None, reason="bench funds")
    path = workdir / f"list-{rows}.csv"
    mix = generate(path, rows, people, args.seed + rows)
    size = path.stat().st_size
    log(f"[{rows:,} rows] {size / 1_048_576:,.1f} MB list; enriching it in a child process")
    child = run_child({**env, "BENCH_FILE": str(path), "BENCH_WORKSPACE_ID": str(workspace.pk), "BENCH_USER_ID": str(user.pk)})
    enrichment = Enrichment.objects.get(pk=child["id"])
    end_to_end = child["create"] + child["match"] + child["confirm"] + child["result"]
    result = {
        "rows": rows,
        "file_mb": round(size / 1_048_576, 1),
        "status": enrichment.status,
        "match_seconds": round(child["match"], 2),
        "match_rows_per_second": round(rows / child["match"]),
        "end_to_end_seconds": round(end_to_end, 2),
        "phase_seconds": {k: round(child[k], 2) for k in ("create", "match", "confirm", "result")},
        "peak_rss_mb": round(child["peak_kb"] / 1024, 1),
        "peak_rss_matching_mb": round(child["matched_maxrss_kb"] / 1024, 1),
        "rss_before_mb": round(child["rss_before_bytes"] / 1_048_576, 1),
        "peak_rss_sampled_mb": round(child["sampled_peak_bytes"] / 1_048_576, 1),
        "mix": mix,
        "counts": {
            "total": enrichment.total_rows,
            "matched": enrichment.matched_rows,
            "matched_by": enrichment.matched_by,
            "already_owned": enrichment.already_owned_rows,
            "duplicate": enrichment.duplicate_rows,
            "unusable": enrichment.unusable_rows,
            "billable": enrichment.billable_rows,
            "credits_quote": str(enrichment.credits_quote),
            "credits_charged": str(enrichment.credits_charged),
            "enriched": enrichment.enriched_rows,
            "result_rows": enrichment.result_rows,
        },
    }
    log(
        f"[{rows:,} rows] matched {result['match_rows_per_second']:,} rows/s; end to end {result['end_to_end_seconds']} s; "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(value) for value in args.rows.split(",")]
    loadavg = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="cursive-bench-enrichment-"))
    try:
        with scratch_database(SCRATCH_DATABASE, debug=False) as original:
            from django.conf import settings

            from leads.demo import fill_lead_database

            started = time.perf_counter()
            log(f"Filling the lead database with {args.people:,} people (COPY)")
            fill_lead_database(args.people, progress=log)
            fill_seconds = time.perf_counter() - started
            scratch = {**original, "NAME": SCRATCH_DATABASE}
            env = {
                **os.environ,
                "DATABASE_URL": database_url(scratch),
                "DJANGO_SETTINGS_MODULE": "cursive.settings",
                "MEDIA_ROOT": str(workdir / "media"),
                "DEBUG": "false",
            }
            if args.chunk_rows:
                env["ENRICHMENT_CHUNK_ROWS"] = str(args.chunk_rows)
            settings.MEDIA_ROOT = workdir / "media"
            people = sample_people(max(sizes), args.seed)
            output = {
                "bench": "enrichment",
                "people": args.people,
                "postgres": server_version(original),
                "fill_seconds": round(fill_seconds, 1),
                "chunk_rows": args.chunk_rows or settings.ENRICHMENT_CHUNK_ROWS,
                "indexes": index_sizes(),
                "lookup_plans": lookup_plans(people),
                "runs": [bench_size(rows, workdir=workdir, people=people, env=env, args=args) for rows in sizes],
                "duplicate_scan": measure_duplicate_scan(args.people),
            }
            output["context"] = run_context(loadavg)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
