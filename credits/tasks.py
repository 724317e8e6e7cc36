from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .models import CreditPurchase


def send_credit_receipt(*, purchase_id: int) -> None:
    purchase = CreditPurchase.objects.select_related("workspace", "package", "created_by").get(pk=purchase_id)
    if purchase.created_by is None:
        return
    context = {"purchase": purchase, "site_url": settings.SITE_URL.rstrip("/")}
    send_mail(
        subject=f"Your Cursive receipt: {purchase.credits:,.0f} credits",
        message=render_to_string("credits/email/receipt.txt", context),
        from_email=None,
        recipient_list=[purchase.created_by.email],
    )
