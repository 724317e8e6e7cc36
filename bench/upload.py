"""How fast a partner's CSV is processed, and how much memory the processing takes, for 100,000 and 1,000,000 rows.

    .venv/bin/python bench/upload.py [--rows 100000,1000000] [--duplicate-percent 5] [--invalid-percent 5]
                                     [--chunk-rows N] [--seed 7]

Creates `cursive_bench_upload` on the project's database server (dropping a
leftover one first) and migrates it. For each size it generates a CSV in a temp
dir (realistic lead columns under headers the auto-mapping recognises, valid US
phone numbers in four formats over ten area codes, 5% of rows repeating an
earlier person with the email in upper case and the phone formatted differently,
5% of rows invalid in five different ways, all shuffled), stores it with
`partners.services.upload_create` (a django File over the generated file,
MEDIA_ROOT in the temp dir), then runs `partners.services.upload_process` in a
child process of its own (`manage.py shell -c`, DATABASE_URL pointing at the
scratch database), so the memory measured is that of processing alone:

  seconds:              wall time of the upload_process call, measured in the child;
  rows_per_second:      total rows / seconds;
  peak_rss_mb:          the child's peak resident memory (getrusage ru_maxrss of the child, after it exited);
  rss_before_mb:        the child's RSS just before upload_process (Django and the models loaded);
  peak_rss_sampled_mb:  the highest RSS the parent saw sampling the child with psutil every 20 ms (a cross-check);
  counts:               total / valid / duplicate / invalid rows of the upload, with what the file was made to hold;
  mapping_step_ms:      before that, what the column-mapping page spends on the file (median and worst of 5 runs):
                        detect_format (the encoding check reads the whole file) and upload_preview (the first
                        20 rows' verdicts, one query), in this process.

One JSON object goes to stdout; progress to stderr. The scratch database and
the temp dir are removed at the end: the dev data is never touched. Other
processes using the same server at the same time (other test runs) slow the
figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scratch import ROOT, database_url, log, scratch_database, server_version

SCRATCH_DATABASE = "cursive_bench_upload"
PRICE = "2.00"
CHILD_MARKER = "BENCH_UPLOAD_RESULT "

# Headers as partners' exports spell them; every one is recognised by leads.csv_import's aliases.
HEADER = [
    "First Name",
    "Last Name",
    "Email Address",
    "Phone Number",
    "Job Title",
    "Seniority",
    "Company Name",
    "Website",
    "Company Size",
    "Industry",
    "City",
    "State",
    "Zip Code",
    "Country",
    "LinkedIn URL",
]
AREAS = [
    (212, "New York", "NY", "10001"),
    (312, "Chicago", "IL", "60601"),
    (415, "San Francisco", "CA", "94105"),
    (617, "Boston", "MA", "02110"),
    (713, "Houston", "TX", "77002"),
    (206, "Seattle", "WA", "98101"),
    (303, "Denver", "CO", "80202"),
    (404, "Atlanta", "GA", "30303"),
    (512, "Austin", "TX", "78701"),
    (305, "Miami", "FL", "33131"),
]
EXCHANGES = range(200, 1000)
FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Priya",
    "Wei",
    "Carlos",
    "Aisha",
    "Mateo",
    "Yuki",
    "Omar",
    "Ingrid",
    "Kwame",
    "Sofia",
    "Liam",
    "Chloe",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Nguyen",
    "Patel",
    "Okafor",
    "Kowalski",
    "Lindqvist",
    "Tanaka",
    "Haddad",
    "Brennan",
    "Silva",
]
TITLES = [
    ("Chief Revenue Officer", "c_level"),
    ("CFO", "c_level"),
    ("VP of Sales", "vp"),
    ("VP Marketing", "vp"),
    ("Director of Operations", "director"),
    ("IT Director", "director"),
    ("Sales Manager", "manager"),
    ("Marketing Manager", "manager"),
    ("Senior Account Executive", "senior"),
    ("Sales Development Rep", "entry"),
]
COMPANY_WORDS = [
    "Bright",
    "Cloud",
    "Stack",
    "Ledger",
    "Harbor",
    "Quota",
    "Pipe",
    "Vault",
    "Care",
    "Ramp",
    "Nimbus",
    "Summit",
    "Beacon",
    "Atlas",
    "Vertex",
    "Crescent",
]
COMPANY_SUFFIXES = ["wave", "ly", "pilot", "flow", "line", "bridge", "stack", "works", "labs", "io"]
SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001+"]
INDUSTRIES = ["SaaS", "Fintech", "Healthcare", "Manufacturing", "Retail", "Logistics", "Education", "Insurance"]
# Five ways a row is invalid (each is counted once, as an invalid row).
INVALID_KINDS = ["bad email, no phone", "bad phone", "disposable email", "no name", "no email and no phone"]

CHILD_CODE = """
import json, os, resource, time
import psutil
from partners.services import upload_process
upload_id = int(os.environ["BENCH_UPLOAD_ID"])
before = psutil.Process().memory_info().rss
started = time.perf_counter()
upload_process(upload_id=upload_id)
seconds = time.perf_counter() - started
print("BENCH_UPLOAD_RESULT " + json.dumps({"seconds": seconds, "rss_before_bytes": before,
      "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
"""


def check_phone_plan() -> None:
    """Every (area code, exchange) the generator uses is a valid US number to the app's own phone check."""
    from leads import normalize

    bad = [
        (area, exchange)
        for area, *_ in AREAS
        for exchange in EXCHANGES
        if not normalize.normalize_phone(f"({area}) {exchange}-4567")
    ]
    if bad:
        raise SystemExit(f"invalid phone prefixes in the plan: {bad[:10]}")


def _phone(n: int) -> tuple[int, int, int]:
    """A distinct (area, exchange, line) for each n below 80 million."""
    return AREAS[n % len(AREAS)][0], EXCHANGES[(n // len(AREAS)) % len(EXCHANGES)], (n // (len(AREAS) * len(EXCHANGES))) % 10_000


def _format_phone(area: int, exchange: int, line: int, style: int) -> str:
    return (
        f"({area}) {exchange}-{line:04d}",
        f"{area}-{exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"+1 {area} {exchange} {line:04d}",
    )[style % 4]


def person_row(n: int, tag: str) -> list[str]:
    first, last = FIRST[n % len(FIRST)], LAST[(n // 7) % len(LAST)]
    word, suffix = COMPANY_WORDS[(n // 3) % len(COMPANY_WORDS)], COMPANY_SUFFIXES[(n // 11) % len(COMPANY_SUFFIXES)]
    company_number = n % 5_000
    company = f"{word}{suffix} {company_number}"
    domain = f"{word}{suffix}{company_number}.com".lower()
    title, seniority = TITLES[n % len(TITLES)]
    area, exchange, line = _phone(n)
    _, city, state, zip_code = AREAS[n % len(AREAS)]
    linkedin = f"https://www.linkedin.com/in/{first}-{last}-{tag}{n}".lower() if n % 3 == 0 else ""
    return [
        first,
        last,
        f"{first}.{last}.{tag}{n}@{domain}".lower(),
        _format_phone(area, exchange, line, n // 13),
        title,
        seniority,
        company,
        domain,
        SIZES[n % len(SIZES)],
        INDUSTRIES[n % len(INDUSTRIES)],
        city,
        state,
        zip_code,
        "US",
        linkedin,
    ]


def invalid_row(k: int, tag: str) -> list[str]:
    row = person_row(90_000_000 + k, tag)  # phone numbers of their own (they never reach dedup anyway)
    kind = k % len(INVALID_KINDS)
    if kind == 0:
        row[2:4] = [f"not-an-email-{k}", ""]
    elif kind == 1:
        row[3] = f"555-{k % 100:02d}"
    elif kind == 2:
        row[2] = f"burner.{tag}{k}@mailinator.com"
    elif kind == 3:
        row[0:2] = ["", ""]
    else:
        row[2:4] = ["", ""]
    return row


def generate(path: Path, rows: int, *, duplicate_percent: float, invalid_percent: float, seed: int, tag: str) -> dict:
    """Write the CSV; return what it holds. Every duplicate repeats a valid person: same email (upper-cased) and
    the same phone number in another format, so it has the same dedup hash."""
    rng = random.Random(seed)
    duplicates = round(rows * duplicate_percent / 100)
    invalid = round(rows * invalid_percent / 100)
    valid = rows - duplicates - invalid
    # The plan: 0..valid-1 are people; valid..valid+duplicates-1 are repeats; the rest are invalid rows.
    repeats = [rng.randrange(valid) for _ in range(duplicates)]
    plan = list(range(rows))
    rng.shuffle(plan)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for entry in plan:
            if entry < valid:
                writer.writerow(person_row(entry, tag))
            elif entry < valid + duplicates:
                original = repeats[entry - valid]
                row = person_row(original, tag)
                row[2] = row[2].upper()
                row[3] = _format_phone(*_phone(original), original // 13 + 1 + entry % 3)
                writer.writerow(row)
            else:
                writer.writerow(invalid_row(entry - valid - duplicates, tag))
    return {"total": rows, "valid": valid, "duplicate": duplicates, "invalid": invalid}


def run_child(upload_id: int, env: dict) -> dict:
    """upload_process in a child process; its own timing and peak RSS, plus the parent's RSS samples of it."""
    import psutil

    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", CHILD_CODE],
        cwd=ROOT,
        env={**env, "BENCH_UPLOAD_ID": str(upload_id)},
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            watched = psutil.Process(process.pid)
            while not done.is_set():
                peak = max(peak, watched.memory_info().rss)
                time.sleep(0.02)
        except psutil.Error:
            pass  # the child exited between two samples

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"the processing child failed ({process.returncode}):\n{output[-3000:]}")
    lines = [line for line in output.splitlines() if line.startswith(CHILD_MARKER)]
    if not lines:
        raise RuntimeError(f"the processing child printed no result:\n{output[-3000:]}")
    result = json.loads(lines[-1][len(CHILD_MARKER) :])
    result["child_wall_seconds"] = wall
    result["sampled_peak_bytes"] = peak
    return result


def measure_mapping_step(path: Path, runs: int = 5) -> dict:
    from leads.csv_import import detect_format, suggest_mapping
    from partners.services import upload_preview

    detect, preview = [], []
    for _ in range(runs):
        started = time.perf_counter()
        fmt = detect_format(path)
        detect.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        verdicts, _ = upload_preview(source=path, fmt=fmt, mapping=suggest_mapping(fmt.header))
        preview.append((time.perf_counter() - started) * 1000)
    detect.sort()
    preview.sort()
    return {
        "detect_format_median": round(detect[runs // 2], 1),
        "detect_format_max": round(detect[-1], 1),
        "preview_median": round(preview[runs // 2], 2),
        "preview_max": round(preview[-1], 2),
        "preview_rows": len(verdicts),
    }


def bench_size(rows: int, *, workdir: Path, partner, user, child_environment: dict, args) -> dict:
    from django.core.files import File

    from partners.models import UploadedLead, UploadError
    from partners.services import upload_create

    tag = f"r{rows}-"
    path = workdir / f"partner-leads-{rows}.csv"
    log(f"[{rows:,} rows] generating {path.name}")
    started = time.perf_counter()
    expected = generate(
        path, rows, duplicate_percent=args.duplicate_percent, invalid_percent=args.invalid_percent, seed=args.seed + rows, tag=tag
    )
    generate_seconds = time.perf_counter() - started
    size = path.stat().st_size
    mapping_step = measure_mapping_step(path)
    log(f"[{rows:,} rows] {size / 1_048_576:,.1f} MB in {generate_seconds:.1f} s; mapping step {mapping_step}")
    log(f"[{rows:,} rows] storing it with upload_create")
    started = time.perf_counter()
    with open(path, "rb") as handle:
        upload = upload_create(
            workspace=partner, file=File(handle, name=path.name), price_per_lead=PRICE, mapping=None, created_by=user
        )
    create_seconds = time.perf_counter() - started
    path.unlink()  # the stored copy under MEDIA_ROOT is what gets processed
    log(f"[{rows:,} rows] upload #{upload.pk} stored in {create_seconds:.1f} s; processing it in a child process")
    child = run_child(upload.pk, child_environment)
    upload.refresh_from_db()
    counts = {
        "total": upload.total_rows,
        "valid": upload.valid_rows,
        "duplicate": upload.duplicate_rows,
        "invalid": upload.invalid_rows,
    }
    seconds = child["seconds"]
    result = {
        "rows": rows,
        "file_mb": round(size / 1_048_576, 1),
        "status": upload.status,
        "failure_message": upload.failure_message or None,
        "seconds": round(seconds, 2),
        "rows_per_second": round(upload.total_rows / seconds) if seconds else None,
        "mb_per_second": round(size / 1_048_576 / seconds, 2) if seconds else None,
        "peak_rss_mb": round(child["ru_maxrss_kb"] / 1024, 1),
        "rss_before_mb": round(child["rss_before_bytes"] / 1_048_576, 1),
        "peak_rss_sampled_mb": round(child["sampled_peak_bytes"] / 1_048_576, 1),
        "child_wall_seconds": round(child["child_wall_seconds"], 2),
        "chunks": upload.chunks_done,
        "counts": counts,
        "expected_counts": expected,
        "counts_as_expected": counts == expected,
        "staged_leads": UploadedLead.objects.filter(upload=upload).count(),
        "stored_row_errors": UploadError.objects.filter(upload=upload).count(),
        "mapping_step_ms": mapping_step,
        "generate_seconds": round(generate_seconds, 2),
        "upload_create_seconds": round(create_seconds, 2),
    }
    if Path(upload.file.path).exists():
        Path(upload.file.path).unlink()
    log(
        f"[{rows:,} rows] {result['status']}: {result['seconds']} s, {result['rows_per_second']:,} rows/s, "
        f"peak RSS {result['peak_rss_mb']} MB (before: {result['rss_before_mb']} MB); counts {counts}"
        f"{'' if result['counts_as_expected'] else f' != expected {expected}'}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated file sizes, in data rows")
    parser.add_argument("--duplicate-percent", type=float, default=5.0)
    parser.add_argument("--invalid-percent", type=float, default=5.0)
    parser.add_argument("--chunk-rows", type=int, default=None, help="UPLOAD_CHUNK_ROWS (default: the setting's)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(value) for value in args.rows.split(",") if value.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="cursive-bench-upload-"))
    media = workdir / "media"
    # Read by the settings below (and by the child processes, which inherit the environment).
    os.environ["MEDIA_ROOT"] = str(media)
    if args.chunk_rows:
        os.environ["UPLOAD_CHUNK_ROWS"] = str(args.chunk_rows)

    from django.conf import settings

    results = []
    try:
        # Only the bench user is hashed with MD5 (fast_passwords); DEBUG off as production runs.
        with scratch_database(SCRATCH_DATABASE, debug=False) as original:
            import logging

            from django.db import connection

            from accounts.models import Workspace
            from accounts.services import user_create, workspace_create

            logging.getLogger("django-q").setLevel(logging.WARNING)
            postgres = server_version(original)
            check_phone_plan()
            child_environment = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "cursive.settings",
                "DATABASE_URL": database_url(dict(connection.settings_dict)),
                "DEBUG": "false",
                "LOG_LEVEL": "WARNING",
            }
            user = user_create(email="bench-partner@bench.test", password="bench-password-correct-9")
            partner = workspace_create(name="Bench Partner", owner=user, kind=Workspace.Kind.PARTNER)
            for rows in sizes:
                results.append(
                    bench_size(rows, workdir=workdir, partner=partner, user=user, child_environment=child_environment, args=args)
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        json.dumps(
            {
                "benchmark": "partner CSV processing (partners.services.upload_process)",
                "mode": "one child process per file (manage.py shell -c), so its peak RSS is the processing's own",
                "chunk_rows": settings.UPLOAD_CHUNK_ROWS,
                "duplicate_percent": args.duplicate_percent,
                "invalid_percent": args.invalid_percent,
                "postgres": postgres,
                "cpu_count": os.cpu_count(),
                "parent_children_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                "files": results,
                "all_counts_as_expected": all(result["counts_as_expected"] for result in results),
            }
        )
    )


if __name__ == "__main__":
    main()
