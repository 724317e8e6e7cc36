from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .models import LeadPurchase


def send_purchase_confirmation(*, purchase_id: int) -> None:
    purchase = LeadPurchase.objects.select_related("workspace", "created_by").get(pk=purchase_id)
    if purchase.created_by is None:
        return
    context = {
        "purchase": purchase,
        "count": purchase.items.filter(is_sale=True).count(),
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    send_mail(
        subject=f"Your {context['count']} Cursive lead{'s' if context['count'] != 1 else ''} are ready",
        message=render_to_string("marketplace/email/confirmation.txt", context),
        from_email=None,
        recipient_list=[purchase.created_by.email],
    )
