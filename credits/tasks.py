from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import Workspace

from . import selectors, services
from .models import CreditPurchase


def _site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def send_credit_receipt(*, purchase_id: int) -> None:
    purchase = CreditPurchase.objects.select_related("workspace", "package", "created_by").get(pk=purchase_id)
    # Nobody clicked "Buy" for an auto-reload: the owners learn of the charge from its receipt.
    recipients = [purchase.created_by.email] if purchase.created_by else selectors.owner_emails(workspace=purchase.workspace)
    if not recipients:
        return
    context = {"purchase": purchase, "site_url": _site_url()}
    send_mail(
        subject=f"Your Cursive receipt: {purchase.credits:,.0f} credits",
        message=render_to_string("credits/email/receipt.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


def send_low_balance_alert(*, workspace_id: int, balance: str, threshold: str) -> None:
    workspace = Workspace.objects.get(pk=workspace_id)
    account = selectors.credit_account(workspace=workspace)
    context = {
        "workspace": workspace,
        "balance": Decimal(balance),
        "threshold": Decimal(threshold),
        "auto_reload": account.auto_reload_enabled,
        "site_url": _site_url(),
    }
    send_mail(
        subject=f"Cursive credits are running low: {Decimal(balance):,.2f} left",
        message=render_to_string("credits/email/low_balance.txt", context),
        from_email=None,
        recipient_list=selectors.owner_emails(workspace=workspace),
    )


def send_auto_reload_failed(*, purchase_id: int, reason: str) -> None:
    purchase = CreditPurchase.objects.select_related("workspace", "package").get(pk=purchase_id)
    context = {"purchase": purchase, "reason": reason, "site_url": _site_url()}
    send_mail(
        subject="Cursive auto-reload failed and is now off",
        message=render_to_string("credits/email/auto_reload_failed.txt", context),
        from_email=None,
        recipient_list=selectors.owner_emails(workspace=purchase.workspace),
    )


def auto_reload_charge(*, purchase_id: int) -> None:
    services.credit_auto_reload_charge(purchase_id=purchase_id)


def billing_card_save(*, purchase_id: int) -> None:
    services.billing_card_save(purchase_id=purchase_id)


def onboarding_bonus_grant(*, workspace_id: int) -> None:
    services.onboarding_bonus_grant(workspace=Workspace.objects.get(pk=workspace_id))
