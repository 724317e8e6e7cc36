"""The bank test at length: money stays consistent while web workers, the job cluster and PostgreSQL crash.

    .venv/bin/python bench/chaos.py [--operations 4000] [--rounds 3] [--clients 2] [--gunicorn-workers 3]
                                    [--refund-before-payment 0.3] [--seed N]

Runs the harness of tests/reliability/bank.py with more operations: gunicorn and a django-q2 cluster (started
as `manage.py serve` starts them) on a PostgreSQL of their own, in a scratch data directory that is deleted at
the end (the dev data is never touched). Client threads buy overlapping carts with credits and by card (their
Stripe events delivered twice, late and out of order), expire checkouts, buy credit packages, pull segments,
upload partner files that staff approve, and staff refund purchases; meanwhile each round SIGKILLs a gunicorn
worker twice, SIGKILLs the job cluster (starting a new one) and restarts PostgreSQL. Then every balance must
equal its ledger, no lead may be sold twice, nothing paid may be left undelivered, every success a client saw
must be in the database and `check_consistency` must be clean.

--clients multiplies the client threads of each kind. --refund-before-payment sends that share of Stripe
refunds before the payment's own event (the refund waits for its payment, tests/reliability/test_event_order.py).

One JSON object goes to stdout (operations by kind and outcome, faults injected, the database's counts, the
findings); progress to stderr. Exit status 1 when there is any finding.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from scratch import log

from tests.reliability import bank


def fault_plan(rounds: int) -> dict:
    """Each round, at the same points of its share of the operations: a web worker killed at 20% and 75%, the
    cluster at 40%, PostgreSQL restarted at 60%."""

    def at(fraction: float) -> tuple[float, ...]:
        return tuple(round((r + fraction) / rounds, 4) for r in range(rounds))

    return {"kill_web_worker_at": tuple(sorted(at(0.2) + at(0.75))), "kill_cluster_at": at(0.4), "restart_postgres_at": at(0.6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=4000, help="client operations (webhooks and staff on top)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of faults spread over the run")
    parser.add_argument("--clients", type=int, default=2, help="client threads of each kind, times the suite's")
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--listings", type=int, default=800)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--refund-before-payment", type=float, default=bank.Config.refund_before_payment)
    parser.add_argument("--seed", type=int, default=bank.Config.seed)
    args = parser.parse_args()

    base = bank.Config()
    config = bank.Config(
        operations=args.operations,
        listings=args.listings,
        people=args.people,
        buyers=base.buyers * args.clients,
        partners=base.partners,
        credit_clients=base.credit_clients * args.clients,
        card_clients=base.card_clients * args.clients,
        package_clients=base.package_clients * args.clients,
        pull_clients=base.pull_clients * args.clients,
        upload_clients=base.upload_clients * args.clients,
        stripe_senders=base.stripe_senders * args.clients,
        gunicorn_workers=args.gunicorn_workers,
        refund_before_payment=args.refund_before_payment,
        seed=args.seed,
        settle_seconds=180,
        **fault_plan(args.rounds),
    )
    with tempfile.TemporaryDirectory(prefix="cursive-chaos-") as workdir:
        report = bank.run(config, Path(workdir), log=log)
    clients_seconds = report["seconds"].get("clients") or 0
    report["operations_per_second"] = round(report["operations_total"] / clients_seconds, 1) if clients_seconds else None
    print(json.dumps(report, indent=1, default=str))
    if report["findings"]:
        log(f"{len(report['findings'])} finding(s):")
        for finding in report["findings"][:50]:
            log(f"  {finding}")
        sys.exit(1)
    log("No findings: balances, ledgers, sales and payments agree.")


if __name__ == "__main__":
    main()
