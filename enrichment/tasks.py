from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from credits.selectors import owner_emails

from .models import Enrichment
from .services import enrichment_build_result, enrichment_match


def match_enrichment(*, enrichment_id: int) -> None:
    enrichment_match(enrichment_id=enrichment_id)


def build_result(*, enrichment_id: int) -> None:
    enrichment_build_result(enrichment_id=enrichment_id)


def send_enrichment_completed(*, enrichment_id: int) -> None:
    enrichment = Enrichment.objects.select_related("workspace", "created_by").get(pk=enrichment_id)
    # Started through the API with no person behind it: the owners hear of the charge.
    creator = enrichment.created_by
    recipients = [creator.email] if creator and creator.is_active else owner_emails(workspace=enrichment.workspace)
    if not recipients:
        return
    context = {"enrichment": enrichment, "site_url": settings.SITE_URL.rstrip("/")}
    send_mail(
        subject=f"Your enriched list is ready: {enrichment.original_name}",
        message=render_to_string("enrichment/email/completed.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
