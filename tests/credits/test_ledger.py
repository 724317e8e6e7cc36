import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Membership
from accounts.services import user_create
from credits.errors import InsufficientCredits
from credits.models import CreditAccount, CreditTransaction
from credits.services import credits_adjust, credits_grant, credits_refund, credits_spend
from cursive.errors import PermissionDenied, ValidationFailed
from cursive.models import AuditEvent

D = Decimal


def balance(workspace) -> Decimal:
    return CreditAccount.objects.get(workspace=workspace).balance


def ledger_sum(workspace) -> Decimal:
    return sum(CreditTransaction.objects.filter(account__workspace=workspace).values_list("amount", flat=True), D(0))


@pytest.mark.django_db
class TestLedger:
    def test_grant_spend_refund_write_one_row_each_and_keep_the_sum(self, tenant):
        ws = tenant.workspace
        credits_grant(workspace=ws, amount="100", reference="credit_purchase:1")
        spend = credits_spend(workspace=ws, amount=D("12.50"), reference="purchase:1")
        credits_refund(workspace=ws, amount="2.5", reference="purchase:1")
        assert balance(ws) == D("90.00") == ledger_sum(ws)
        assert (spend.kind, spend.amount, spend.balance_after) == ("spend", D("-12.50"), D("87.50"))
        assert list(CreditTransaction.objects.values_list("kind", flat=True).order_by("id")) == ["purchase", "spend", "refund"]

    def test_insufficient_credits_says_how_many_are_missing_and_changes_nothing(self, tenant):
        ws = tenant.workspace
        credits_grant(workspace=ws, amount="10", reference="credit_purchase:1")
        with pytest.raises(InsufficientCredits) as exc:
            credits_spend(workspace=ws, amount="25", reference="purchase:1")
        assert exc.value.missing == D("15.00")
        assert "15.00 more credits" in exc.value.message
        assert exc.value.as_dict()["error"]["code"] == "insufficient_credits"
        assert balance(ws) == D("10.00")
        assert CreditTransaction.objects.count() == 1

    @pytest.mark.parametrize("amount", ["0", "-5", "abc", "NaN", None])
    def test_amounts_must_be_positive_numbers(self, tenant, amount):
        with pytest.raises(ValidationFailed):
            credits_grant(workspace=tenant.workspace, amount=amount, reference="credit_purchase:1")

    def test_amounts_are_decimal_with_two_places_never_floats(self, tenant):
        credits_grant(workspace=tenant.workspace, amount=0.1, reference="credit_purchase:1")
        credits_grant(workspace=tenant.workspace, amount=0.2, reference="credit_purchase:2")
        assert balance(tenant.workspace) == D("0.30")

    def test_failure_between_balance_update_and_ledger_insert_leaves_both_untouched(self, tenant):
        ws = tenant.workspace
        credits_grant(workspace=ws, amount="50", reference="credit_purchase:1")
        # An empty reference passes Python but violates the ledger's CHECK: the INSERT fails after the
        # balance UPDATE already ran inside the same (request's) transaction.
        with pytest.raises(IntegrityError), transaction.atomic():
            credits_spend(workspace=ws, amount="20", reference="")
        assert balance(ws) == D("50.00") == ledger_sum(ws)
        assert CreditTransaction.objects.count() == 1

    def test_failure_after_the_service_but_before_commit_rolls_everything_back(self, tenant):
        ws = tenant.workspace
        credits_grant(workspace=ws, amount="50", reference="credit_purchase:1")
        with pytest.raises(RuntimeError), transaction.atomic():
            credits_spend(workspace=ws, amount="20", reference="purchase:9")
            assert balance(ws) == D("30.00")
            raise RuntimeError("crash before commit")
        assert balance(ws) == D("50.00") == ledger_sum(ws)

    def test_ledger_rows_cannot_be_edited_or_deleted(self, tenant):
        row = credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            CreditTransaction.objects.filter(pk=row.pk).update(amount=D("500"))
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            CreditTransaction.objects.filter(pk=row.pk).delete()

    def test_the_database_refuses_a_negative_balance(self, tenant):
        credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditAccount.objects.filter(workspace=tenant.workspace).update(balance=D("-1"))

    def test_staff_adjustment_needs_a_reason_and_leaves_an_audit_row(self, tenant):
        staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
        with pytest.raises(ValidationFailed):
            credits_adjust(workspace=tenant.workspace, amount="10", actor=staff, reason=" ")
        entry = credits_adjust(workspace=tenant.workspace, amount="10", actor=staff, reason="Goodwill for outage")
        assert entry.kind == "adjustment" and entry.actor == staff
        audit = AuditEvent.objects.get(action="credits.adjust")
        assert entry.reference == f"audit:{audit.pk}"
        assert (audit.actor, audit.reason, audit.data["amount"]) == (staff, "Goodwill for outage", "10.00")
        taken = credits_adjust(workspace=tenant.workspace, amount="-4", actor=staff, reason="Correction")
        assert taken.amount == D("-4.00") and balance(tenant.workspace) == D("6.00")

    def test_non_staff_cannot_adjust(self, tenant):
        member = user_create(email="m@acme.test", password="member-pass-123")
        Membership.objects.create(user=member, workspace=tenant.workspace, role="owner")
        with pytest.raises(PermissionDenied):
            credits_adjust(workspace=tenant.workspace, amount="1000", actor=member, reason="free money")
        assert not CreditTransaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_200_simultaneous_spends_end_exactly_right(tenant):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int")
        allowed = cursor.fetchone()[0]
    if allowed < 250:
        pytest.fail(
            f"200 simultaneous spends need 200 connections; this server allows {allowed}. "
            "Raise max_connections to 250 or more (see README, external PostgreSQL)."
        )
    ws = tenant.workspace
    credits_grant(workspace=ws, amount="150", reference="credit_purchase:1")
    threads_count, barrier = 200, threading.Barrier(200)
    outcomes, errors = [], []
    lock = threading.Lock()

    def spend(i):
        try:
            barrier.wait()
            try:
                credits_spend(workspace=ws, amount="1", reference=f"purchase:{i}")
                result = "ok"
            except InsufficientCredits as exc:
                result = ("refused", exc.missing)
            with lock:
                outcomes.append(result)
        except Exception as exc:  # anything else is a bug the test must show
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert outcomes.count("ok") == 150
    refused = [o for o in outcomes if o != "ok"]
    assert len(refused) == 50 and all(missing == D("1.00") for _, missing in refused)
    assert balance(ws) == D("0.00") == ledger_sum(ws)
    assert CreditTransaction.objects.filter(kind="spend").count() == 150
    balances_after = sorted(CreditTransaction.objects.filter(kind="spend").values_list("balance_after", flat=True))
    assert balances_after == [D(n) for n in range(150)], "every spend saw the balance the one before it left"


@pytest.mark.django_db
def test_a_refusal_caught_inside_a_transaction_does_not_doom_it(tenant):
    with transaction.atomic():
        credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
        with pytest.raises(InsufficientCredits):
            credits_spend(workspace=tenant.workspace, amount="50", reference="purchase:1")
        credits_spend(workspace=tenant.workspace, amount="2", reference="purchase:2")
    assert balance(tenant.workspace) == D("3.00") == ledger_sum(tenant.workspace)
