"""An erasure racing a purchase of the same person: whichever commits first, the buyer ends with no lead of the
person and the credits back, and the books balance."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from credits.models import CreditAccount
from cursive.consistency import run_checks
from leads.models import Lead
from marketplace.services import purchase_create
from privacy.models import ErasureRefund
from privacy.services import erase_person
from tests.locking import Paused
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_concurrency import waiting_for_a_lock

from .conftest import EMAIL

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_purchase_delivering_the_person_while_the_erasure_waits_is_erased_and_refunded(buyer, partner):
    listing = make_listing(partner=partner.workspace, price="10.00", email=EMAIL)
    outcome = {}

    def erase():
        try:
            outcome["report"] = erase_person(email=EMAIL, actor=None, reason="Asked by email")
        except Exception as exc:  # shown by the assertions below
            outcome["error"] = exc
        finally:
            connection.close()

    eraser = threading.Thread(target=erase)
    # The purchase has locked the listing and delivered the lead, and has not committed yet.
    with Paused(
        # One call of the purchase's database function locks the listing and delivers the lead.
        lambda: purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="credits"),
        r"marketplace_purchase_credits",
    ):
        eraser.start()
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock('SELECT "marketplace_listing"'):
            assert time.monotonic() < deadline, "the erasure never waited for the listing"
            time.sleep(0.05)
    eraser.join(30)

    assert "error" not in outcome, outcome
    assert outcome["report"].leads == 1 and outcome["report"].refunds == 1
    assert not Lead.objects.filter(workspace=buyer.workspace).exists()
    assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("100.00")
    assert CreditAccount.objects.get(workspace=partner.workspace).balance == Decimal("0.00")
    assert ErasureRefund.objects.count() == 1
    assert run_checks() == []
