"""Credit accounts and credit purchases are locked FOR NO KEY UPDATE, on their own rows only."""

import pytest
from django.test import Client

from credits.models import CreditAccount, CreditPurchase
from marketplace.services import purchase_create
from tests.locking import Paused, key_share_waits
from tests.marketplace.conftest import fund, make_listing

from .conftest import deliver, session_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_completing_a_credit_purchase_locks_only_the_purchase(pending_purchase):
    with Paused(
        lambda: deliver(Client(), session_event(pending_purchase)), r'FROM "credits_creditpurchase".* FOR (NO KEY )?UPDATE'
    ):
        assert not key_share_waits("credits_creditpurchase", pending_purchase.pk)
        assert not key_share_waits("accounts_workspace", pending_purchase.workspace_id)
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE


def test_spending_locks_the_account_without_blocking_rows_that_refer_to_it(tenant):
    fund(tenant.workspace, 100)
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    listing = make_listing()
    with Paused(
        lambda: purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk]),
        # The purchase is one call of its database function: paused after it, the account's lock is held.
        r"marketplace_purchase_credits",
    ):
        assert not key_share_waits("credits_creditaccount", account.pk)
    account.refresh_from_db()
    assert account.balance == 90
