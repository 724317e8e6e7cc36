from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.services import user_create
from credits.models import CreditAccount, CreditPackage, CreditPurchase, CreditTransaction
from credits.services import credits_grant
from cursive.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_checkout(settings):
    settings.STRIPE_SECRET_KEY = ""


def test_credits_page_empty_state_and_packages(client, tenant):
    client.force_login(tenant.user)
    page = client.get("/credits/").content.decode()
    assert "0.00" in page and "No transactions yet" in page
    for label in ("Starter", "Growth", "Pro", "Enterprise"):
        assert f"Buy {label}" in page
    assert "Most popular" in page and "39.80¢ per credit" in page


def test_buying_through_the_local_checkout_runs_the_real_webhook_path(client, tenant):
    client.force_login(tenant.user)
    growth = CreditPackage.objects.get(label="Growth")
    response = client.post(f"/credits/buy/{growth.pk}/")
    assert response.status_code == 302 and "/checkout/local/cs_local_" in response.url
    checkout_path = urlparse(response.url).path
    page = client.get(checkout_path)
    assert b"$199.00" in page.content
    paid = client.post(checkout_path, {"action": "pay"})
    assert paid.status_code == 302 and "result=success" in paid.url
    purchase = CreditPurchase.objects.get()
    assert purchase.status == CreditPurchase.Status.COMPLETE
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("500.00")
    confirmation = client.get(f"/credits/purchases/{purchase.pk}/?result=success")
    assert b"500.00 credits" in confirmation.content
    assert b"+500.00" in client.get("/credits/").content
    # Paying the same checkout again (back button, double click) grants nothing more.
    client.post(checkout_path, {"action": "pay"})
    assert CreditTransaction.objects.count() == 1


def test_cancelled_checkout_charges_nothing(client, tenant):
    client.force_login(tenant.user)
    response = client.post(f"/credits/buy/{CreditPackage.objects.get(label='Starter').pk}/")
    cancelled = client.post(urlparse(response.url).path, {"action": "cancel"}, follow=True)
    assert b"Checkout cancelled" in cancelled.content
    assert not CreditTransaction.objects.exists()


def test_pending_purchase_page_polls_until_complete(client, tenant):
    client.force_login(tenant.user)
    client.post(f"/credits/buy/{CreditPackage.objects.get(label='Starter').pk}/")
    purchase = CreditPurchase.objects.get()
    page = client.get(f"/credits/purchases/{purchase.pk}/").content.decode()
    assert "Confirming your payment" in page and 'hx-trigger="every 2s"' in page


def test_low_balance_banner_and_threshold(client, tenant):
    client.force_login(tenant.user)
    credits_grant(workspace=tenant.workspace, amount="20", reference="credit_purchase:1")
    assert b'data-testid="low-balance"' in client.get("/credits/").content
    client.post("/credits/alert/", {"low_balance_threshold": "10"})
    assert CreditAccount.objects.get(workspace=tenant.workspace).low_balance_threshold == Decimal("10.00")
    assert b'data-testid="low-balance"' not in client.get("/credits/").content


def test_ledger_filter_and_pagination_partials(client, tenant):
    client.force_login(tenant.user)
    for i in range(30):
        credits_grant(workspace=tenant.workspace, amount="1", reference=f"credit_purchase:{i}")
    page = client.get("/credits/").content.decode()
    assert page.count('data-testid="ledger-row"') == 25 and "Show older" in page
    more = client.get(
        "/credits/?cursor=" + page.split("cursor=")[1].split('"')[0].split("&")[0],
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="ledger-more",
    ).content.decode()
    assert more.count('data-testid="ledger-row"') == 5 and "<html" not in more
    filtered = client.get("/credits/?kind=spend", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ledger").content.decode()
    assert "No transactions of this kind yet" in filtered


def test_nav_balance_widget(client, tenant):
    client.force_login(tenant.user)
    credits_grant(workspace=tenant.workspace, amount="1234.5", reference="credit_purchase:1")
    assert b"1,234.50" in client.get("/credits/balance/").content
    assert b'data-testid="nav-balance"' in client.get("/").content


def test_staff_adjustment_form_in_admin(client, tenant):
    staff = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    client.force_login(staff)
    url = f"/admin/credits/creditaccount/{account.pk}/adjust/"
    assert b"Adjust balance" in client.get(url).content
    assert b"required" in client.post(url, {"amount": "10", "reason": ""}).content.lower()
    client.post(url, {"amount": "10", "reason": "Goodwill credit"})
    account.refresh_from_db()
    assert account.balance == Decimal("15.00")
    assert AuditEvent.objects.get().actor == staff


def test_admin_lists_every_model(client):
    from django.apps import apps
    from django.contrib import admin

    staff = user_create(email="root@cursive.test", password="root-password-123", is_staff=True)
    client.force_login(staff)
    ours = (
        "accounts",
        "leads",
        "credits",
        "cursive",
        "marketplace",
        "partners",
        "segments",
        "visitors",
        "webhooks",
        "payments",
        "analytics",
        "enrichment",
    )
    for model in apps.get_models():
        # Unmanaged models are views over partitioned tables, read through their owners' pages.
        if model._meta.app_label in ours and not model._meta.auto_created and model._meta.managed:
            assert model in admin.site._registry, f"{model.__name__} is not in the admin"
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/?q=x"
            assert client.get(url).status_code == 200, url


def test_check_consistency_finds_a_tampered_balance(tenant, capsys):
    credits_grant(workspace=tenant.workspace, amount="5", reference="credit_purchase:1")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE credits_creditaccount SET balance = 99 WHERE workspace_id = %s", [tenant.workspace.pk])
    with pytest.raises(SystemExit) as exc:
        call_command("check_consistency")
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "ledger sums to 5.00" in out
    assert "credit_purchase:1, which does not exist" in out


def test_check_consistency_finds_a_completed_purchase_without_its_credits(tenant, capsys):
    growth = CreditPackage.objects.get(label="Growth")
    from django.utils import timezone

    CreditPurchase.objects.create(
        workspace=tenant.workspace,
        package=growth,
        credits=growth.credits,
        price_cents=growth.price_cents,
        status="complete",
        completed_at=timezone.now(),
    )
    with pytest.raises(SystemExit):
        call_command("check_consistency")
    assert "has 0 purchase ledger rows" in capsys.readouterr().out
