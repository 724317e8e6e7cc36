"""How many `credits_spend` calls per second the credits ledger takes from 8 concurrent threads, in a scratch database.

    .venv/bin/python bench/credits.py [--threads 8] [--spends-per-thread 500] [--amount 0.01]

Creates `cursive_bench_credits` on the project's database server (dropping a
leftover one first), migrates it, and runs two scenarios, each a fixed number
of spends (threads x spends per thread), every thread with its own Django
database connection, all released together by a barrier:

  one_account:  every thread spends from the SAME account (they queue on its row lock);
  own_accounts: each thread spends from its OWN account (no shared row).

Each prints spends/s, p50/p95 latency of one `credits_spend` call, and whether
every account's balance still equals the sum of its ledger. One JSON object goes
to stdout; progress to stderr. The scratch database is dropped at the end: the
dev data is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from decimal import Decimal

from scratch import latency_summary, log, run_together, scratch_database, server_version

SCRATCH_DATABASE = "cursive_bench_credits"


def make_workspaces(count: int, *, label: str, funding: Decimal) -> list:
    from accounts.services import user_create, workspace_create
    from credits.services import credits_grant

    workspaces = []
    for n in range(count):
        owner = user_create(email=f"bench-{label}-{n}@bench.test", password="bench-password-correct-9")
        workspace = workspace_create(name=f"Bench {label} {n}", owner=owner)
        credits_grant(workspace=workspace, amount=funding, reference=f"bench:funding-{label}-{n}", reason="bench funding")
        workspaces.append(workspace)
    return workspaces


def run_scenario(name: str, workspaces_per_thread: list, *, spends_per_thread: int, amount: Decimal) -> tuple[dict, dict]:
    """Start one thread per entry of `workspaces_per_thread`; each spends `spends_per_thread` times from its workspace.
    Returns the successful spends per workspace id, and the figures."""
    from django.db import connection

    from credits.services import credits_spend

    threads_count = len(workspaces_per_thread)
    latencies: list[list[float]] = [[] for _ in range(threads_count)]
    errors: list[list[str]] = [[] for _ in range(threads_count)]

    def worker(index: int, barrier: threading.Barrier) -> None:
        workspace = workspaces_per_thread[index]
        try:
            connection.ensure_connection()  # connect before the clock starts: measure spends, not connects
            barrier.wait()
            mine = latencies[index]
            for n in range(spends_per_thread):
                started = time.perf_counter()
                try:
                    credits_spend(workspace=workspace, amount=amount, reference=f"bench:{name}-{index}-{n}", reason="bench spend")
                except Exception as exc:  # counted and reported, never hidden
                    errors[index].append(f"{exc.__class__.__name__}: {exc}")
                    continue
                mine.append(time.perf_counter() - started)
        except threading.BrokenBarrierError:
            errors[index].append("barrier broken")
        finally:
            connection.close()

    elapsed = run_together(threads_count, worker, name=name)
    all_latencies = [value * 1000 for values in latencies for value in values]
    all_errors = [error for values in errors for error in values]
    spends = len(all_latencies)
    by_workspace: dict[int, int] = {}
    for workspace, values in zip(workspaces_per_thread, latencies, strict=True):
        by_workspace[workspace.pk] = by_workspace.get(workspace.pk, 0) + len(values)
    return by_workspace, {
        "threads": threads_count,
        "accounts": len({ws.pk for ws in workspaces_per_thread}),
        "spends": spends,
        "failed_spends": len(all_errors),
        "first_errors": all_errors[:3],
        "elapsed_seconds": round(elapsed, 3),
        "spends_per_second": round(spends / elapsed, 1) if elapsed else None,
        "latency_ms": latency_summary(all_latencies),
    }


def check_accounts(workspaces: list, *, funding: Decimal, amount: Decimal, spends_by_workspace: dict) -> dict:
    """Each account: balance == sum of its ledger == last row's balance_after == funding - spends x amount."""
    from django.db.models import Count, Sum

    from credits.models import CreditAccount, CreditTransaction

    details = []
    for workspace in workspaces:
        account = CreditAccount.objects.get(workspace=workspace)
        ledger = CreditTransaction.objects.filter(account=account).aggregate(total=Sum("amount"), rows=Count("id"))
        last = CreditTransaction.objects.filter(account=account).order_by("-created_at", "-id").first()
        spends = spends_by_workspace[workspace.pk]
        details.append(
            {
                "workspace_id": workspace.pk,
                "balance": str(account.balance),
                "ledger_sum": str(ledger["total"]),
                "ledger_rows": ledger["rows"],
                "balance_equals_ledger_sum": account.balance == ledger["total"],
                "balance_equals_last_balance_after": last is not None and account.balance == last.balance_after,
                "balance_as_expected": account.balance == funding - amount * spends,
                "rows_as_expected": ledger["rows"] == spends + 1,
            }
        )
    ok = all(
        d["balance_equals_ledger_sum"]
        and d["balance_equals_last_balance_after"]
        and d["balance_as_expected"]
        and d["rows_as_expected"]
        for d in details
    )
    return {"balances_equal_ledgers": ok, "accounts": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--spends-per-thread", type=int, default=500)
    parser.add_argument("--amount", type=Decimal, default=Decimal("0.01"))
    args = parser.parse_args()
    amount = args.amount.quantize(Decimal("0.01"))
    total_spends = args.threads * args.spends_per_thread
    # Enough for every spend of a scenario on one account, with room to spare: no spend may fail for lack of credits.
    funding = (amount * total_spends * 2).quantize(Decimal("0.01"))

    results = {}
    with scratch_database(SCRATCH_DATABASE) as original:
        postgres = server_version(original)
        log(f"Scenario one_account: {args.threads} threads x {args.spends_per_thread} spends on ONE account")
        shared = make_workspaces(1, label="shared", funding=funding)
        spent, one = run_scenario("one_account", shared * args.threads, spends_per_thread=args.spends_per_thread, amount=amount)
        one["check"] = check_accounts(shared, funding=funding, amount=amount, spends_by_workspace=spent)
        results["one_account"] = one
        log(f"  {one['spends_per_second']} spends/s, p50 {one['latency_ms']['p50']} ms, p95 {one['latency_ms']['p95']} ms")

        log(f"Scenario own_accounts: {args.threads} threads x {args.spends_per_thread} spends, one account each")
        own_workspaces = make_workspaces(args.threads, label="own", funding=funding)
        spent, own = run_scenario("own_accounts", own_workspaces, spends_per_thread=args.spends_per_thread, amount=amount)
        own["check"] = check_accounts(own_workspaces, funding=funding, amount=amount, spends_by_workspace=spent)
        results["own_accounts"] = own
        log(f"  {own['spends_per_second']} spends/s, p50 {own['latency_ms']['p50']} ms, p95 {own['latency_ms']['p95']} ms")

    print(
        json.dumps(
            {
                "benchmark": "credits_spend under concurrency",
                "mode": "fixed number of spends per scenario",
                "threads": args.threads,
                "spends_per_thread": args.spends_per_thread,
                "spends_per_scenario": total_spends,
                "amount_per_spend": str(amount),
                "funding_per_account": str(funding),
                "connections": "one Django connection per thread, opened before the clock starts, closed at thread end",
                "postgres": postgres,
                "cpu_count": os.cpu_count(),
                "one_account": results["one_account"],
                "own_accounts": results["own_accounts"],
                "all_balances_equal_ledgers": all(r["check"]["balances_equal_ledgers"] for r in results.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
