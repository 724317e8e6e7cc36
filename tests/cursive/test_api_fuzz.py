"""The issue's "Prove it": schemathesis against /api/schema/ with a real workspace. Every operation, bounded
and derandomized examples (valid and invalid): no 5xx, and every answer has a status code, content type and
body the OpenAPI schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from accounts.models import Workspace
from credits.services import credits_adjust
from leads.models import Lead
from leads.services import lead_create
from segments.services import segment_create

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_world(tenant_factory, settings):
    """A buyer with credits, leads and a segment, and a partner workspace, both with API keys."""
    settings.STRIPE_SECRET_KEY = ""  # the local checkout: no network
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, 10**9)
    # schemathesis's WSGI client reads a streamed export but never closes it, which is what gives an export's
    # turn back (a WSGI server always does): without room for every export, each would wait out the queue.
    settings.EXPORTS_PER_PROCESS = 10**6
    buyer = tenant_factory("Fuzz Buyer")
    credits_adjust(workspace=buyer.workspace, amount=1000, actor=None, reason="fuzzing")
    for n in range(3):
        lead_create(
            workspace=buyer.workspace,
            source=Lead.Source.MANUAL,
            created_by=buyer.user,
            data={"first_name": f"Ann{n}", "last_name": "Lee", "email": f"ann{n}@fuzz.example"},
        )
    segment_create(workspace=buyer.workspace, name="Texas VPs", filters={"state": ["TX"]}, created_by=buyer.user)
    partner = tenant_factory("Fuzz Partner", kind=Workspace.Kind.PARTNER)
    return {"buyer": buyer, "partner": partner}


@pytest.fixture
def wsgi_app():
    """Django's own WSGI handler, in the test's transaction: like Django's test client, it must not close the
    connection at the end of each request (which would end the test's transaction)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


# The schema /api/schema/ serves, generated here rather than fetched: collection has no database.
# (schemathesis.pytest.from_fixture would fetch it in the test, but does not run under pytest 9.)
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


@pytest.mark.fuzz
@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_api_operation_answers_as_its_schema_says(case, fuzz_world, wsgi_app):
    actor = fuzz_world["partner"] if case.path.startswith("/api/v1/partner/") else fuzz_world["buyer"]
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Token {actor.raw_key}"}, checks=CHECKS)
