"""Throttling of password guessing (django-axes hooks) and of password-reset emails (the project's limiter)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.shortcuts import render

from cursive.ratelimit import client_ip, hit_sliding

from .forms import EmailAuthenticationForm

RESET_WINDOW_SECONDS = 3600


def login_username(request, credentials: dict | None) -> str:
    """The account a login attempt is for, as axes counts it: addresses are stored lower-case, so Ann@X and
    ann@x are one account and changing the case buys no extra guesses."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username", "")
    return (raw or "").strip().lower()


def login_locked_out(request, original_response=None, credentials: dict | None = None):
    """The log-in page again, saying why logging in is paused and for how long, with a 429 and Retry-After.
    The same wording whether the account exists or not."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        f"Too many failed log-ins for this account from your network. For your security, logging in "
        f"is paused for {minutes} minutes; you can reset your password meanwhile."
    )
    form = EmailAuthenticationForm(request, initial={"username": login_username(request, credentials)})
    response = render(
        request, "accounts/login.html", {"form": form, "locked": message, "next": request.POST.get("next", "")}, status=429
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def password_reset_allowed(request, *, email: str) -> bool:
    """Whether a reset email may go to this address now: a few per address, and a bound per client address so
    one client cannot mail every account. Both counts take the request, so a refused one still counts."""
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    per_address = hit_sliding(
        f"pwreset:email:{address}", limit=settings.PASSWORD_RESET_EMAILS_PER_ADDRESS, window=RESET_WINDOW_SECONDS
    )
    per_client = hit_sliding(
        f"pwreset:ip:{client_ip(request)}", limit=settings.PASSWORD_RESET_REQUESTS_PER_IP, window=RESET_WINDOW_SECONDS
    )
    return per_address.allowed and per_client.allowed
