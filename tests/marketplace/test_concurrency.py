"""Real threads, each on its own database connection, racing for the same leads."""

import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum

from credits.errors import InsufficientCredits
from credits.models import CreditAccount, CreditTransaction
from credits.selectors import credit_balance
from cursive.errors import Conflict
from leads.models import Lead
from leads.services import lead_create
from marketplace.models import LeadPurchase, LeadPurchaseItem, Listing
from marketplace.services import LeadUnavailable, purchase_create
from tests.locking import Paused

from .conftest import fund, make_listing

pytestmark = pytest.mark.django_db(transaction=True)


def race(workers, target):
    barrier = threading.Barrier(len(workers))
    results, lock = [], threading.Lock()

    def run(worker):
        try:
            barrier.wait()
            try:
                outcome = ("ok", target(worker))
            except LeadUnavailable as exc:
                outcome = ("unavailable", exc.lead_ids)
            except InsufficientCredits as exc:
                outcome = ("insufficient", exc.missing)
            except Exception as exc:  # deadlocks, lock timeouts, anything else: the test must show it
                outcome = ("error", repr(exc))
            with lock:
                results.append((worker, outcome))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def assert_every_balance_equals_its_ledger():
    sums = dict(CreditTransaction.objects.values_list("account_id").annotate(total=Sum("amount")))
    for account in CreditAccount.objects.all():
        assert account.balance == sums.get(account.pk, Decimal("0")), account


def test_100_buyers_race_for_one_lead(tenant_factory, partner):
    listing = make_listing(partner=partner.workspace, price="10.00")
    buyers = []
    for i in range(100):
        buyer = tenant_factory(f"Racer {i}")
        fund(buyer.workspace, 50)
        buyers.append(buyer)
    results = race(buyers, lambda b: purchase_create(workspace=b.workspace, lead_ids=[listing.pk]).pk)
    outcomes = Counter(kind for _, (kind, _) in results)
    assert outcomes == {"ok": 1, "unavailable": 99}, outcomes
    (winner,) = [b for b, (kind, _) in results if kind == "ok"]
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD and listing.buyer_id == winner.workspace.pk
    assert LeadPurchaseItem.objects.filter(listing=listing, is_sale=True).count() == 1
    spent = CreditTransaction.objects.filter(kind="spend")
    assert spent.count() == 1 and spent.get().account.workspace_id == winner.workspace.pk
    for buyer in buyers:
        expected = Decimal("40.00") if buyer is winner else Decimal("50.00")
        assert CreditAccount.objects.get(workspace=buyer.workspace).balance == expected
    assert CreditTransaction.objects.filter(kind="earn").count() == 1
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("7.00")
    assert_every_balance_equals_its_ledger()


def test_50_buyers_with_overlapping_carts(tenant_factory, partner):
    rng = random.Random(7)
    listings = [make_listing(partner=partner.workspace if i % 2 else None, price=f"{rng.randint(2, 9)}.00") for i in range(40)]
    carts = {}
    buyers = []
    for i in range(50):
        buyer = tenant_factory(f"Cart {i}")
        # Some buyers are short of credits so that refusals for money race with refusals for leads.
        fund(buyer.workspace, 12 if i % 10 == 0 else 100)
        carts[buyer.workspace.pk] = rng.sample([lst.pk for lst in listings], 5)
        buyers.append(buyer)
    results = race(buyers, lambda b: purchase_create(workspace=b.workspace, lead_ids=carts[b.workspace.pk]).pk)
    kinds = Counter(kind for _, (kind, _) in results)
    assert kinds["error"] == 0, [o for _, o in results if o[0] == "error"]
    assert kinds["ok"] >= 1
    # All or nothing: a buyer either owns their whole cart or nothing of it.
    for buyer, (kind, _) in results:
        owned = set(
            LeadPurchaseItem.objects.filter(purchase__workspace=buyer.workspace, is_sale=True).values_list(
                "listing_id", flat=True
            )
        )
        assert owned == (set(carts[buyer.workspace.pk]) if kind == "ok" else set())
    # No lead in two purchases; every sold lead in exactly one.
    per_listing = LeadPurchaseItem.objects.filter(is_sale=True).values("listing").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_listing)
    assert Listing.objects.filter(status="sold").count() == per_listing.count() == 5 * kinds["ok"]
    assert LeadPurchase.objects.filter(status="complete").count() == kinds["ok"]
    assert_every_balance_equals_its_ledger()
    from django.core.management import call_command

    call_command("check_consistency")


def test_a_person_added_by_hand_while_being_bought_is_a_409_not_a_500(tenant, partner):
    """The buyer adds the person to My Leads (or pulls them) while the purchase runs: its ownership check saw
    nothing, its insert then meets the other's; the purchase must be refused, not crash."""
    fund(tenant.workspace, 100)
    listing = make_listing(partner=partner.workspace, price="10.00")
    outcome = {}

    def add_by_hand():
        return lead_create(
            workspace=tenant.workspace,
            source=Lead.Source.MANUAL,
            data={"first_name": "Pat", "last_name": "Lee", "email": listing.email},
        )

    buyer = buyer_thread(tenant.workspace, [listing.pk], outcome)
    with Paused(add_by_hand, r'INSERT INTO "leads_lead"'):
        buyer.start()
        deadline = time.monotonic() + 30
        # The purchase is one call of its database function, whose insert of the lead waits for the other's.
        while not waiting_for_a_lock("SELECT * FROM marketplace_purchase_credits"):
            assert time.monotonic() < deadline, "the purchase never reached its insert"
            time.sleep(0.05)
    buyer.join(30)

    assert isinstance(outcome.get("error"), Conflict), outcome
    assert outcome["error"].code == "already_owned"
    listing.refresh_from_db()
    assert listing.status == Listing.Status.AVAILABLE
    assert credit_balance(workspace=tenant.workspace) == 100
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 1
    assert_every_balance_equals_its_ledger()


def buyer_thread(workspace, lead_ids, outcome: dict) -> threading.Thread:
    """A thread (not started) that buys `lead_ids` with credits on its own connection, leaving the purchase or
    whatever it raised in `outcome`."""

    def buy():
        try:
            outcome["purchase"] = purchase_create(workspace=workspace, lead_ids=lead_ids)
        except Exception as exc:  # the test shows whatever it is
            outcome["error"] = exc
        finally:
            connection.close()

    return threading.Thread(target=buy)


def waiting_for_a_lock(query_start: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s", [query_start + "%"]
        )
        return cursor.fetchone()[0] > 0


def test_a_pull_and_a_purchase_in_one_workspace_at_once_both_complete(tenant, partner):
    """Inserting leads locks the workspace's lead tally until commit, and a purchase inserts its lead while it holds
    the credit account: a pull that took the tally first and then waited for the account would deadlock with it.
    The pull takes the account first, so the purchase waits for the pull and both go through."""
    from segments.services import segment_create, segment_pull
    from tests.segments.conftest import make_person

    fund(tenant.workspace, 100)
    listing = make_listing(partner=partner.workspace, price="10.00")
    make_person(email="pulled@people.example")
    segment = segment_create(workspace=tenant.workspace, name="Everyone", filters={})
    outcome = {}

    buyer = buyer_thread(tenant.workspace, [listing.pk], outcome)
    with Paused(lambda: segment_pull(workspace=tenant.workspace, segment_id=segment.pk, limit=1), r'INSERT INTO "?leads_lead'):
        buyer.start()
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock("SELECT * FROM marketplace_purchase_credits"):
            assert time.monotonic() < deadline, "the purchase never waited for the pull"
            time.sleep(0.05)
    buyer.join(30)

    assert "error" not in outcome, outcome
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 2
    assert_every_balance_equals_its_ledger()
