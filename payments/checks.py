"""Production refuses to run on the offline stand-ins for Stripe: `manage.py check --deploy` fails."""

import re

from django.conf import settings
from django.core.checks import Error, Tags, register

from credits.stripe_gateway import DEVELOPMENT_WEBHOOK_SECRET


def _public_webhook_secrets() -> set[str]:
    """The development default, and whatever .env.example prints (a copied .env carries it to production)."""
    secrets = {DEVELOPMENT_WEBHOOK_SECRET}
    example = settings.BASE_DIR / ".env.example"
    if example.exists() and (found := re.search(r"^STRIPE_WEBHOOK_SECRET=(.*)$", example.read_text(), re.M)):
        secrets.add(found.group(1).strip())
    return secrets - {""}


@register(Tags.security, deploy=True)
def stripe_settings_check(app_configs, **kwargs):
    if not settings.PRODUCTION:
        return []
    errors = []
    if not settings.STRIPE_SECRET_KEY:
        errors.append(
            Error(
                "STRIPE_SECRET_KEY is not set: without it nobody can pay (production has no local checkout).",
                hint="Set STRIPE_SECRET_KEY to the secret key of your Stripe account (sk_live_...).",
                id="payments.E001",
            )
        )
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        errors.append(
            Error(
                "STRIPE_WEBHOOK_SECRET is not set: Stripe's events could not be verified.",
                hint="Set it to the signing secret of the /webhooks/stripe endpoint in Stripe's dashboard (whsec_...).",
                id="payments.E002",
            )
        )
    elif secret in _public_webhook_secrets():
        errors.append(
            Error(
                "STRIPE_WEBHOOK_SECRET is the public development value from .env.example: anyone could sign events "
                "that credit any workspace.",
                hint="Set it to the signing secret of the /webhooks/stripe endpoint in Stripe's dashboard (whsec_...).",
                id="payments.E003",
            )
        )
    return errors
