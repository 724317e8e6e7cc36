from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from accounts.validators import one_line

from .models import ContactRequest


def send_contact_request(*, contact_request_id: int) -> None:
    """Email a Services-page message to staff; replying answers the person who sent it."""
    contact = ContactRequest.objects.get(pk=contact_request_id)
    if not settings.CONTACT_REQUESTS_EMAIL:
        return
    context = {"contact": contact, "site_url": settings.SITE_URL.rstrip("/")}
    EmailMessage(
        subject=one_line(f"New {contact.get_tier_display().split(':')[0]} request from {contact.name}"),
        body=render_to_string("website/email/contact_request.txt", context),
        to=settings.CONTACT_REQUESTS_EMAIL,
        reply_to=[contact.email],
    ).send()
