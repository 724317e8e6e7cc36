"""A stateful Stripe for tests: `localstripe` (PyPI) run as a real server process, in front of which a small
HTTP server answers the one API localstripe lacks (Checkout Sessions) and passes everything else through.

localstripe keeps customers, payment methods and payment intents, charges its test cards (4242424242424242
pays, 4000000000000341 attaches to a customer but is declined when charged) and sends its own signed webhooks
to a registered URL: tests catch those and hand them to Cursive's webhook endpoint as Stripe would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs

import stripe
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from tests.servers import free_port

# localstripe pickles its whole store to the fixed path /tmp/localstripe.pickle after every write; parallel
# test runs on this machine would all write there, so this process keeps its store in memory only.
_SERVER = """
import sys
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
server.start()
"""
SECRET_KEY = "sk_test_cursive_localstripe"
CARD_OK = "4242424242424242"
CARD_DECLINED_WHEN_CHARGED = "4000000000000341"


def start_localstripe():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        request = urllib.request.Request(f"{base}/v1/customers", headers={"Authorization": f"Bearer {SECRET_KEY}"})
        try:
            urllib.request.urlopen(request, timeout=2)  # noqa: S310 - loopback only
            return process, base
        except (urllib.error.URLError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"localstripe did not start: {process.stderr.read()}") from None
            time.sleep(0.1)


class LocalStripe:
    """The test's handle on Stripe: what it was asked, and the buyer's side of a Checkout."""

    def __init__(self, *, api_base: str, front, webhook_secret: str):
        self.api_base = api_base
        self.front = front
        self.webhook_secret = webhook_secret
        self.sessions: list[dict] = []
        self.requests: list[dict] = []
        self.webhooks: list[dict] = []
        self.client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": api_base})

    def handle(self, request: Request) -> WerkzeugResponse:
        if request.path == "/v1/checkout/sessions" and request.method == "POST":
            return self._create_session(request)
        if request.path == "/stripe-webhooks":
            self.webhooks.append({"body": request.get_data(), "signature": request.headers.get("Stripe-Signature")})
            return WerkzeugResponse("", status=200)
        body = request.get_data()
        self.requests.append(
            {"method": request.method, "path": request.path, "form": parse_qs(body.decode()), "headers": dict(request.headers)}
        )
        headers = {key: value for key, value in request.headers.items() if key.lower() in ("authorization", "content-type")}
        forwarded = urllib.request.Request(
            f"{self.api_base}{request.full_path.rstrip('?')}", data=body or None, headers=headers, method=request.method
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=10) as answer:  # noqa: S310 - loopback only
                return WerkzeugResponse(answer.read(), status=answer.status, content_type="application/json")
        except urllib.error.HTTPError as error:
            return WerkzeugResponse(error.read(), status=error.code, content_type="application/json")

    def _create_session(self, request: Request) -> WerkzeugResponse:
        form = {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}
        session_id = f"cs_test_local_{len(self.sessions) + 1}"
        self.sessions.append({"id": session_id, "form": form})
        body = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
        }
        return WerkzeugResponse(json.dumps(body), status=200, content_type="application/json")

    def listen_for_webhooks(self) -> None:
        """localstripe signs the events it sends with the secret it is given: Cursive's."""
        data = json.dumps({"url": self.front.url_for("/stripe-webhooks"), "secret": self.webhook_secret}).encode()
        request = urllib.request.Request(
            f"{self.api_base}/_config/webhooks/cursive", data=data, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback only

    def webhooks_of(self, event_type: str, *, about: str | None, count: int = 1, timeout: float = 15) -> list[dict]:
        """The signed webhooks localstripe sent of this type (about this object, unless None); it sends them
        about a second after the fact."""
        deadline = time.monotonic() + timeout
        while True:
            events = [(hook, json.loads(hook["body"])) for hook in self.webhooks]
            found = [
                hook for hook, event in events if event["type"] == event_type and about in (None, event["data"]["object"]["id"])
            ]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def attach_card(self, customer_id: str, card: str):
        method = self.client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
        )
        return self.client.v1.payment_methods.attach(method.id, params={"customer": customer_id})

    def pay_checkout(self, session: dict, *, card: str = CARD_OK, authenticate: bool = False) -> dict:
        """What Stripe's hosted page does when the buyer pays a session opened with `customer` and
        `setup_future_usage`: the card becomes a payment method saved on that customer, charged once (after
        the buyer's 3-D Secure check with `authenticate`). Returns the paid session as
        checkout.session.completed carries it."""
        form = session["form"]
        method = self.attach_card(form["customer"], card)
        amount = int(form["line_items[0][price_data][unit_amount]"])
        metadata = {"kind": form["metadata[kind]"], "workspace_id": form["metadata[workspace_id]"]}
        intent = self.client.v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": "usd",
                "customer": form["customer"],
                "payment_method": method.id,
                "confirm": True,
                "metadata": metadata,
            }
        )
        if authenticate:
            self.client.raw_request(
                "post",
                f"/v1/payment_intents/{intent.id}/_authenticate",
                client_secret=intent.client_secret,
                success="true",
            )
        return {
            "id": session["id"],
            "object": "checkout.session",
            "client_reference_id": form["client_reference_id"],
            "amount_total": amount,
            "currency": "usd",
            "customer": form["customer"],
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": intent.id,
            "payment_status": "paid",
            "status": "complete",
        }
