"""Sequence sending under load: seconds to enrol `--leads` leads, then messages per second from `--workers` processes
running the sending engine against a local SMTP sink.

    .venv/bin/python bench/sequences.py [--leads 100000] [--mailboxes 4] [--workers 2] [--batch 100]

Creates `cursive_bench_sequences` on the project's database server (dropping a leftover one first), migrates it and
builds one workspace with `--mailboxes` mailboxes (sequences.services.mailbox_create, which tries the sink over
SMTP), one active sequence per mailbox and one draft sequence (email, wait 72 hours, email; every day and hour
allowed). The mailboxes' caps are then lifted past what the service accepts (the bench measures the engine, not the
pacing) and `--leads` leads are inserted in one SQL statement.

  enrol: every lead enrolled in one call of sequences.services.enrollments_create_many (My Leads' "all
         matching") into a draft sequence: seconds and leads per second. Then, for sending, one such call per
         active sequence taking a share of the leads (timed apart);
  send:  `--workers` processes, forked with fresh database connections, each calling
         sequences.sending.run_due(batch=`--batch`) until nothing is due; every first step goes to the sink, an
         aiosmtpd server in a process of its own that counts messages per recipient. Messages per second from
         the start to the last worker's end, the workers' CPU per message, and any recipient that received twice
         (must be 0).

One JSON object goes to stdout; progress to stderr. The sink is stopped and the scratch database dropped at the
end, however the run ends: the dev data is never touched.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time

from exports import free_port
from scratch import log, run_context, scratch_database, server_version

SCRATCH_DATABASE = "cursive_bench_sequences"
PASSWORD = "bench-password-correct-9"
TARGET_MESSAGES_PER_SECOND = 300
TARGET_ENROL_SECONDS = 30
_LEADS = """
INSERT INTO leads_lead (
    workspace_id, first_name, last_name, email, phone, title, seniority, company_name, company_domain, company_size,
    industry, city, state, zip, country, linkedin_url, source, status, email_status, phone_status, score, tags,
    dedup_hash, source_detail, acquired_credits, acquired_reference, pages_viewed, seconds_on_site, created_at,
    updated_at)
SELECT %(workspace)s, (ARRAY['Ava','Liam','Noah','Emma','Mia','Lucas','Zoe','Omar','Priya','Chen'])[1 + i %% 10], 'Smith',
       'lead' || i || '@company' || (i %% 9973) || '.example', '', 'VP of Sales', 'vp',
       CASE WHEN i %% 5 = 0 THEN '' ELSE 'Company ' || (i %% 9973) END, 'company' || (i %% 9973) || '.example', '51-200',
       'SaaS', 'Austin', 'TX', '', 'US', '', 'manual', 'new', 'valid', 'unknown', 0, '{}'::varchar(50)[],
       encode(sha256(('bench-' || %(workspace)s || '-' || i)::bytea), 'hex'), '', 0, '', 0, 0, now(), now()
FROM generate_series(1, %(n)s) AS i
"""


# --- The sink ------------------------------------------------------------------------------------------------


def _serve_sink(port: int, received, duplicates, stop) -> None:
    from aiosmtpd.controller import Controller

    seen: set[str] = set()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            for address in envelope.rcpt_tos:
                if address in seen:
                    with duplicates.get_lock():
                        duplicates.value += 1
                seen.add(address)
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


def start_sink(port: int):
    context = multiprocessing.get_context("fork")
    received, duplicates, stop = context.Value("q", 0), context.Value("q", 0), context.Event()
    process = context.Process(target=_serve_sink, args=(port, received, duplicates, stop), daemon=True)
    process.start()
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, received, duplicates, stop
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


# --- Building ----------------------------------------------------------------------------------------------------


def _sequence_data(name: str, mailbox) -> dict:
    return {
        "name": name,
        "mailbox_id": mailbox.pk,
        "send_window": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"},
        "steps": [
            {
                "type": "email",
                "subject": "Quick question, {{first_name}}",
                "body": "Hi {{first_name}},\n\nTeams at {{company_name|your company}} use us to find buyers. "
                "Worth a look? https://bench-sequences.test/demo\n\nSender",
            },
            {"type": "wait", "hours": 72},
            {"type": "email", "subject": "Re: {{first_name}}", "body": "Any thoughts, {{first_name}}?"},
        ],
    }


def build(args, port: int):
    from django.db import connection, transaction

    from accounts.services import user_create, workspace_create
    from sequences.models import Mailbox
    from sequences.services import mailbox_create, sequence_create, sequence_update

    owner = user_create(email="owner@bench-sequences.test", password=PASSWORD, full_name="Bench Owner")
    workspace = workspace_create(name="Bench Sequences Co", owner=owner)
    sequences = []
    for n in range(args.mailboxes):
        mailbox = mailbox_create(
            workspace=workspace,
            data={
                "email": f"sender{n}@bench-sequences.test",
                "from_name": f"Sender {n}",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_username": f"sender{n}@bench-sequences.test",
                "smtp_password": "unused: the sink offers no AUTH",
                "smtp_security": "none",
                "min_gap_seconds": 0,
                "warmup": False,
            },
        )
        sequence = sequence_create(workspace=workspace, data=_sequence_data(f"Bench {n}", mailbox))
        sequences.append(sequence_update(workspace=workspace, sequence_id=sequence.pk, data={"status": "active"}))
    # Left a draft (it never sends): it takes the one 100,000-lead enrolment that is timed.
    draft = sequence_create(workspace=workspace, data=_sequence_data("Bench enrolment", mailbox))
    Mailbox.objects.filter(workspace=workspace).update(hourly_limit=10_000_000, daily_limit=10_000_000)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LEADS, {"workspace": workspace.pk, "n": args.leads})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")
    return workspace, sequences, draft


def enrol(workspace, sequences, draft) -> dict:
    from django.db import connection
    from django.db.models import F

    from leads.models import Lead
    from sequences.services import enrollments_create_many

    leads = Lead.objects.filter(workspace=workspace)
    total = leads.count()
    started = time.perf_counter()
    one = enrollments_create_many(workspace=workspace, sequence_id=draft.pk, lead_ids_or_queryset=leads)
    seconds = time.perf_counter() - started
    # The sending part's enrolments: one bulk enrolment per active sequence, each a share of the leads by id.
    enrolled = 0
    started = time.perf_counter()
    for index, sequence in enumerate(sequences):
        share = leads.alias(share=F("id") % len(sequences)).filter(share=index)
        enrolled += enrollments_create_many(workspace=workspace, sequence_id=sequence.pk, lead_ids_or_queryset=share).enrolled
    shares_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sequences_enrollment")
    return {
        "leads": total,
        "enrolled": one.enrolled,
        "skipped": one.skipped,
        "seconds": round(seconds, 2),
        "leads_per_second": round(one.enrolled / seconds) if seconds else None,
        "target_seconds": TARGET_ENROL_SECONDS,
        "for_sending": {"sequences": len(sequences), "enrolled": enrolled, "seconds": round(shares_seconds, 2)},
    }


# --- Sending -----------------------------------------------------------------------------------------------------


def _send_worker(batch: int, start, results) -> None:
    from django.db import connection

    from sequences import sending

    sent, idle = 0, 0
    start.wait()
    # A worker that finds nothing may be looking while the other holds the last mailboxes: a few more looks.
    while idle < 3:
        count = sending.run_due(batch=batch)
        sent += count
        idle = 0 if count else idle + 1
        if not count:
            time.sleep(0.05)
    connection.close()
    results.put(sent)


def send(args, expected: int, received, duplicates) -> dict:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_send_worker, args=(args.batch, start, results)) for _ in range(args.workers)]
    for worker in workers:
        worker.start()
    cpu_before = os.times()
    started = time.perf_counter()
    start.set()
    per_worker = [results.get() for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    cpu_after = os.times()
    sent = sum(per_worker)
    cpu = (cpu_after.children_user + cpu_after.children_system) - (cpu_before.children_user + cpu_before.children_system)
    return {
        "workers": args.workers,
        "batch": args.batch,
        "expected": expected,
        "sent": sent,
        "received_by_sink": received.value,
        "duplicates_at_sink": duplicates.value,
        "per_worker": per_worker,
        "seconds": round(seconds, 2),
        "messages_per_second": round(sent / seconds, 1) if seconds else None,
        "workers_cpu_seconds": round(cpu, 2),
        "workers_cpu_ms_per_message": round(cpu * 1000 / sent, 3) if sent else None,
        "target_messages_per_second": TARGET_MESSAGES_PER_SECOND,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--mailboxes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    loadavg_before = os.getloadavg()
    port = free_port()
    sink, received, duplicates, stop = start_sink(port)
    try:
        with scratch_database(SCRATCH_DATABASE, debug=False) as original:
            log(f"Building {args.mailboxes} mailboxes and sequences, {args.leads:,} leads")
            workspace, sequences, draft = build(args, port)
            log(f"Enrolling {args.leads:,} leads")
            enrolment = enrol(workspace, sequences, draft)
            log(f"Enrolled in {enrolment['seconds']} s; sending with {args.workers} workers")
            sending = send(args, enrolment["for_sending"]["enrolled"], received, duplicates)
            log(f"Sent {sending['sent']:,} in {sending['seconds']} s")
            result = {
                "bench": "sequences",
                "postgres": server_version(original),
                "enrol": enrolment,
                "send": sending,
                "run": run_context(loadavg_before),
            }
    finally:
        stop.set()
        sink.join(10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
