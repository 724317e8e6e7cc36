"""The bank test (issue 10, "Prove it"): money stays consistent through web-worker, job-worker and database crashes.

The harness is in bank.py; bench/chaos.py runs the same with more operations and prints the figures as JSON.
"""

import json

import pytest

from . import bank

pytestmark = pytest.mark.slow


def test_money_stays_consistent_while_workers_and_the_database_crash(tmp_path):
    config = bank.Config()
    report = bank.run(config, tmp_path, log=print)
    print(
        json.dumps(
            {
                key: report[key]
                for key in ("seconds", "operations_total", "operations", "faults", "database", "check_consistency", "findings")
            },
            indent=1,
        )
    )

    assert report["operations_total"] >= 1000
    faults = report["faults"]
    assert faults.get("kill_web_worker") == len(config.kill_web_worker_at), report["fault_log"]
    assert faults.get("kill_cluster") == len(config.kill_cluster_at), report["fault_log"]
    assert faults.get("restart_postgres") == len(config.restart_postgres_at), report["fault_log"]
    operations = report["operations"]
    for kind in (
        "credit_purchase",
        "card_purchase",
        "credit_checkout",
        "segment_pull",
        "upload",
        "staff_approve",
        "staff_refund",
        "webhook:checkout.session.completed",
        "webhook:checkout.session.expired",
        "webhook:charge.refunded",
    ):
        assert sum(
            count
            for outcome, count in operations.get(kind, {}).items()
            if outcome.startswith("ok") or outcome.startswith("accepted")
        ), f"no {kind} succeeded: {operations.get(kind)}"
    assert not report["unsettled_uploads"], "uploads still processing when the run ended"
    assert not report["findings"], "\n".join(report["findings"])
