"""Two reports of one bounce at the same moment, each on its own connection: the credits go back once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction
from cursive.consistency import run_checks
from marketplace.services import purchase_create
from sequences.models import BounceRefund
from sequences.refunds import bounce_refund
from tests.marketplace.conftest import fund, make_listing

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_bounces_at_once_refund_once(tenant_factory):
    buyer = tenant_factory("Buyer")
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    fund(buyer.workspace, 100)
    listing = make_listing(partner=partner.workspace, price="10.00", email="twice@bounce.example")
    purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk])
    barrier = threading.Barrier(2)
    results, errors = [], []

    def report(source):
        try:
            barrier.wait()
            results.append(bounce_refund(workspace=buyer.workspace, email="twice@bounce.example", source=source))
        except Exception as exc:  # a deadlock or a unique violation would show here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(source,)) for source in ("sequence", "api")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(result is None for result in results) == [False, True]
    assert BounceRefund.objects.count() == 1
    assert CreditTransaction.objects.filter(kind="refund").count() == 1
    assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("100.00")
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("0.00")
    assert run_checks() == []
