import json

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Workspace
from credits.selectors import owner_emails

from .models import OptOutRequest
from .selectors import data_copy
from .services import LINK_MAX_AGE, enrichment_result_strip, opt_out_copy_sent, opt_out_token


def send_opt_out_link(*, request_id: int) -> None:
    request = OptOutRequest.objects.filter(pk=request_id, status=OptOutRequest.Status.PENDING).first()
    if request is None:  # confirmed or expired meanwhile
        return
    link = settings.SITE_URL.rstrip("/") + reverse("privacy:opt_out_confirm", args=[opt_out_token(request)])
    context = {"request": request, "link": link, "hours": int(LINK_MAX_AGE.total_seconds() // 3600)}
    send_mail(
        subject="Confirm your request to Cursive",
        message=render_to_string("privacy/email/opt_out_link.txt", context),
        from_email=None,
        recipient_list=[request.email],
    )


def send_data_copy(*, request_id: int) -> None:
    request = OptOutRequest.objects.filter(pk=request_id, status=OptOutRequest.Status.CONFIRMED).first()
    if request is None:  # sent already
        return
    copy = data_copy(email=request.email)
    body = json.dumps(copy, indent=2, default=str)
    message = EmailMessage(
        subject="The data Cursive holds about you",
        body=render_to_string("privacy/email/data_copy.txt", {"copy": copy, "json": body}),
        to=[request.email],
    )
    message.attach("cursive-data.json", body, "application/json")
    message.send()
    opt_out_copy_sent(request_id=request.pk)


def send_lead_erased_notice(*, workspace_id: int, leads: int, refunded_credits: str) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    recipients = owner_emails(workspace=workspace) if workspace else []
    if not recipients:
        return
    context = {"workspace": workspace, "leads": leads, "refunded_credits": refunded_credits}
    send_mail(
        subject="A lead was removed from your workspace at the person's request",
        message=render_to_string("privacy/email/lead_erased.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


def strip_enrichment_result(*, enrichment_id: int, rows: list[int]) -> None:
    enrichment_result_strip(enrichment_id=enrichment_id, rows=rows)
