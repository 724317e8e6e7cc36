"""The low-balance threshold: where it comes from, and the one alert (event + owners' email) per crossing."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction

from accounts.models import Membership
from accounts.services import user_create
from credits import selectors
from credits.models import CreditAccount
from credits.services import credit_account_settings_update, credits_adjust, credits_grant, credits_pay_out, credits_spend
from cursive.jobs import job_run
from cursive.models import Job, OutboxEvent
from tests.credits.conftest import deliver, session_event

pytestmark = pytest.mark.django_db

ALERT = "credits.tasks.send_low_balance_alert"


def low_events(workspace):
    return list(OutboxEvent.objects.filter(workspace=workspace, type="credits.low").order_by("pk").values_list("data", flat=True))


def alert_jobs():
    return Job.objects.filter(func=ALERT).order_by("pk")


def spend(workspace, amount, n=[0]):  # noqa: B006 - a counter for unique references
    n[0] += 1
    return credits_spend(workspace=workspace, amount=amount, reference=f"purchase:{n[0]}")


def threshold(workspace) -> Decimal:
    return selectors.credit_account(workspace=workspace).low_balance_threshold


@pytest.fixture
def funded(tenant):
    """100 credits with the owner's threshold at 50."""
    credits_grant(workspace=tenant.workspace, amount="100", reference="credit_purchase:0")
    credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold="50")
    return tenant


def test_crossing_emits_one_event_and_emails_the_owners_once(funded):
    co_owner = user_create(email="co-owner@acme.test", password="co-owner-pass-123")
    Membership.objects.create(user=co_owner, workspace=funded.workspace, role=Membership.Role.OWNER)
    admin = user_create(email="admin@acme.test", password="admin-pass-123")
    Membership.objects.create(user=admin, workspace=funded.workspace, role=Membership.Role.ADMIN)

    spend(funded.workspace, "50")  # 100 -> 50: at the threshold is not below it
    assert low_events(funded.workspace) == [] and not alert_jobs().exists()
    spend(funded.workspace, "0.01")  # 50 -> 49.99: crossed
    assert low_events(funded.workspace) == [{"balance": "49.99", "threshold": "50.00"}]
    (job,) = alert_jobs()
    assert job_run(job.pk) == "succeeded"
    (email,) = mail.outbox
    assert sorted(email.to) == sorted([funded.user.email, "co-owner@acme.test"])
    assert "49.99" in email.subject and "50.00" in email.body and "/credits/" in email.body


def test_staying_below_emits_nothing_more(funded):
    spend(funded.workspace, "60")
    spend(funded.workspace, "10")
    spend(funded.workspace, "29.99")
    assert len(low_events(funded.workspace)) == 1 and alert_jobs().count() == 1


def test_a_top_up_above_the_threshold_re_arms_the_alert(funded):
    spend(funded.workspace, "60")  # 40: alert 1
    credits_grant(workspace=funded.workspace, amount="5", reference="credit_purchase:1")  # 45: still below
    spend(funded.workspace, "1")
    assert len(low_events(funded.workspace)) == 1
    credits_grant(workspace=funded.workspace, amount="20", reference="credit_purchase:2")  # 64: re-armed
    spend(funded.workspace, "20")  # 44: alert 2
    assert [event["balance"] for event in low_events(funded.workspace)] == ["40.00", "44.00"]
    assert alert_jobs().count() == 2


def test_a_rolled_back_debit_emits_nothing(funded):
    with pytest.raises(RuntimeError), transaction.atomic():
        spend(funded.workspace, "60")
        raise RuntimeError("the purchase failed after its spend")
    assert low_events(funded.workspace) == [] and not alert_jobs().exists()
    assert CreditAccount.objects.get(workspace=funded.workspace).balance == Decimal("100.00")
    spend(funded.workspace, "60")  # the committed retry alerts
    assert len(low_events(funded.workspace)) == 1


def test_staff_corrections_alert_but_partner_payouts_do_not(funded):
    staff = user_create(email="root@cursive.test", password="root-password-123", is_staff=True)
    credits_adjust(workspace=funded.workspace, amount="-60", actor=staff, reason="duplicate grant")
    assert len(low_events(funded.workspace)) == 1
    credits_grant(workspace=funded.workspace, amount="60", reference="credit_purchase:1", kind="earn")
    credits_pay_out(workspace=funded.workspace, amount="60", reference="payout:1")
    assert len(low_events(funded.workspace)) == 1


def test_the_threshold_is_20_percent_of_the_last_package_bought(client, tenant, pending_purchase):
    assert threshold(tenant.workspace) == Decimal("50.00")  # nothing bought yet
    deliver(client, session_event(pending_purchase))  # Growth: 500 credits
    assert threshold(tenant.workspace) == Decimal("100.00")
    spend(tenant.workspace, "400.01")
    assert low_events(tenant.workspace) == [{"balance": "99.99", "threshold": "100.00"}]


def test_an_owners_threshold_is_kept_until_they_clear_it(client, tenant, pending_purchase):
    account = credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold="12.5")
    assert (account.low_balance_threshold, account.low_balance_threshold_custom) == (Decimal("12.50"), Decimal("12.50"))
    deliver(client, session_event(pending_purchase))
    assert threshold(tenant.workspace) == Decimal("12.50")
    account = credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold=None)
    assert (account.low_balance_threshold, account.low_balance_threshold_custom) == (Decimal("100.00"), None)


def test_the_credits_page_shows_and_edits_the_threshold(client, funded):
    funded.browser_client(client)
    page = client.get("/credits/").content.decode()
    assert 'name="low_balance_threshold"' in page and 'value="50.00"' in page
    assert client.post("/credits/alert/", {"low_balance_threshold": "75"}).status_code == 302
    assert threshold(funded.workspace) == Decimal("75.00")
    client.post("/credits/alert/", {"low_balance_threshold": ""})
    account = CreditAccount.objects.get(workspace=funded.workspace)
    assert account.low_balance_threshold_custom is None and account.low_balance_threshold == Decimal("50.00")
    assert "automatic, 20% of the last package bought" in client.get("/credits/").content.decode()
