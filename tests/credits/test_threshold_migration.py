"""credits 0006: a threshold an owner changed stays theirs; one still at the old default (50.00) follows the last
package bought (20% of its credits), or stays at 50.00 when nothing was bought."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credits.models import CreditAccount, CreditPackage

BEFORE = [("credits", "0005_stripe_event_waiting_for_payment")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def old_account(workspace, threshold: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO credits_creditaccount (workspace_id, balance, low_balance_threshold, needs_review, review_note,"
            " updated_at) VALUES (%s, 0, %s, false, '', now())",
            [workspace.pk, threshold],
        )


def old_completed_purchase(workspace, label: str, completed: str) -> None:
    package = CreditPackage.objects.values("pk", "credits", "price_cents").get(label=label)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO credits_creditpurchase (workspace_id, package_id, credits, price_cents, status, checkout_url,"
            " payment_intent_id, refunded_cents, needs_review, review_note, created_at, completed_at)"
            " VALUES (%s, %s, %s, %s, 'complete', '', '', 0, false, '', now(), %s)",
            [workspace.pk, package["pk"], package["credits"], package["price_cents"], completed],
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_existing_thresholds_are_kept_or_follow_the_last_package(tenant_factory):
    chose, bought, never = tenant_factory("Chose"), tenant_factory("Bought"), tenant_factory("Never")
    migrate(BEFORE)
    try:
        old_account(chose.workspace, "75.00")
        old_completed_purchase(chose.workspace, "Growth", "2026-01-01")
        old_account(bought.workspace, "50.00")
        old_completed_purchase(bought.workspace, "Growth", "2026-01-01")
        old_completed_purchase(bought.workspace, "Pro", "2026-02-01")  # the last one: 1000 credits
        old_account(never.workspace, "50.00")
    finally:
        migrate_to_latest()

    def thresholds(tenant):
        account = CreditAccount.objects.get(workspace=tenant.workspace)
        return account.low_balance_threshold, account.low_balance_threshold_custom

    assert thresholds(chose) == (Decimal("75.00"), Decimal("75.00"))
    assert thresholds(bought) == (Decimal("200.00"), None)
    assert thresholds(never) == (Decimal("50.00"), None)
