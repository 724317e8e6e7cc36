import json
import secrets
import time

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from credits import stripe_gateway
from credits.models import LocalCheckoutSession
from cursive.api.errors import json_error

from .webhooks import BadSignature, InvalidEvent, stripe_webhook_receive


def _local_session(session_id: str) -> LocalCheckoutSession:
    if not stripe_gateway.uses_local_checkout():
        raise Http404("Checkout is handled by Stripe.")
    session = LocalCheckoutSession.objects.filter(session_id=session_id).first()
    if session is None:
        raise Http404("No such checkout session.")
    return session


def _local_event(session: LocalCheckoutSession, event_type: str, **session_fields) -> str:
    return json.dumps(
        {
            "id": f"evt_local_{secrets.token_hex(12)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": session.session_id,
                    "object": "checkout.session",
                    "client_reference_id": session.client_reference_id,
                    "metadata": session.metadata,
                    "amount_total": session.amount_total,
                    "currency": session.currency,
                    "mode": "payment",
                    **session_fields,
                }
            },
        }
    )


def local_checkout(request, session_id: str):
    """The offline stand-in for Stripe's hosted checkout: Pay sends a signed completed event to the webhook code."""
    session = _local_session(session_id)
    expired = session.expires_at <= timezone.now()
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return redirect(session.cancel_url)
        if expired:
            messages.error(request, "This checkout expired. Start again from the Credits page.")
            return redirect(session.cancel_url)
        payload = _local_event(
            session,
            "checkout.session.completed",
            status="complete",
            payment_status="paid",
            payment_intent=f"pi_local_{secrets.token_hex(12)}",
        )
        stripe_webhook_receive(payload=payload.encode(), signature=stripe_gateway.sign_payload(payload))
        return redirect(session.success_url)
    return render(request, "payments/local_checkout.html", {"session": session, "expired": expired})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        event = stripe_webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except (BadSignature, InvalidEvent) as exc:
        return json_error(400, exc.code, exc.message)
    if event.status == event.Status.FAILED:
        return json_error(500, "handler_failed", "Processing this event failed; it is recorded and will be retried.")
    return JsonResponse({"received": True, "status": event.status})
