"""Walk every URL pattern that takes an object id with another workspace's ids: each must 404.

A new URL with an id parameter fails this test until it gets an entry in
OBJECT_FACTORIES (how to make such an object in the *other* workspace) or,
for parameters that are not workspace objects, in NOT_WORKSPACE_OBJECTS.
"""

from __future__ import annotations

import itertools

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import Membership
from accounts.services import invitation_create, user_create
from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db

# Parameters that are secrets or belong to no workspace, with the reason.
NOT_WORKSPACE_OBJECTS = {
    ("accounts:invitation_accept", "token"): "a secret token addressed to one email, not a workspace object",
    ("accounts:password_reset_confirm", "uidb64"): "Django's password-reset link",
    ("accounts:password_reset_confirm", "token"): "Django's password-reset link",
    ("partners:upload_mapping", "token"): "an upload draft lives only in its uploader's session",
    ("enrichment:mapping", "token"): "an enrichment draft lives only in its uploader's session",
    ("credits:buy", "package_id"): "credit packages are the same catalogue for every workspace",
    ("payments:local_checkout", "session_id"): "stands in for Stripe's hosted page, addressed by a secret session id",
    ("sequences:open", "token"): "a signed token in an email, reached by its recipient without logging in",
    ("sequences:unsubscribe", "token"): "a signed token in an email, reached by its recipient without logging in",
    ("privacy:opt_out_confirm", "token"): "a signed token in an email, reached by its recipient without logging in",
    ("staff-job-retry", "source"): "the staff Jobs page: staff see every workspace by design, as in the admin",
    ("staff-job-retry", "job_id"): "the staff Jobs page: staff see every workspace by design, as in the admin",
    ("website:docs_page", "slug"): "documentation pages are public, the same for every visitor",
}


_serial = itertools.count()


def _lead(other):
    return lead_create(
        workspace=other.workspace, source=Lead.Source.MANUAL, data={"email": f"secret{next(_serial)}@globex.test"}
    ).pk


def _member(other):
    user = user_create(email=f"teammate{next(_serial)}@globex.test", password="another-good-pass-1")
    return Membership.objects.create(user=user, workspace=other.workspace, role=Membership.Role.MEMBER).pk


def _invitation(other):
    return invitation_create(
        workspace=other.workspace, email=f"new{next(_serial)}@globex.test", role="member", invited_by=other.user
    ).pk


def _credit_purchase(other):
    from credits.models import CreditPackage, CreditPurchase

    package = CreditPackage.objects.first()
    return CreditPurchase.objects.create(
        workspace=other.workspace, package=package, credits=package.credits, price_cents=package.price_cents
    ).pk


def _lead_purchase(other):
    from credits.services import credits_adjust
    from marketplace.services import listing_create, purchase_create

    listing = listing_create(data={"email": f"sold{next(_serial)}@lead.example"}, price="5", quality=50)
    credits_adjust(workspace=other.workspace, amount="5", actor=None, reason="test")
    return purchase_create(workspace=other.workspace, lead_ids=[listing.pk]).pk


def _segment(other):
    from segments.services import segment_create

    return segment_create(workspace=other.workspace, name=f"Theirs {next(_serial)}", filters={}).pk


def _upload(other):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from partners.services import upload_create

    return upload_create(
        workspace=other.workspace,
        file=SimpleUploadedFile("x.csv", b"email\na@b.example\n"),
        price_per_lead="5",
        mapping=None,
        created_by=other.user,
    ).pk


def _enrichment(other):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from enrichment.services import enrichment_create

    return enrichment_create(
        workspace=other.workspace,
        file=SimpleUploadedFile("theirs.csv", b"email\nsomeone@globex.example\n"),
        mapping=None,
        created_by=other.user,
    ).pk


def _pixel(other):
    from visitors.services import pixel_create

    return pixel_create(workspace=other.workspace, name=f"Their site {next(_serial)}", domain="globex.example").pk


def _visitor(other):
    from visitors.models import Visitor
    from visitors.services import events_record

    pixel_id, key = _pixel(other), f"their-visitor-{next(_serial)}"
    event = {"type": "pageview", "visitor": key, "url": "https://globex.example/", "referrer": "", "title": "", "name": ""}
    events_record(events=[(pixel_id, event)])
    return Visitor.objects.get(pixel_id=pixel_id, key=key).pk


def _endpoint(other):
    from webhooks.services import endpoint_create

    return endpoint_create(workspace=other.workspace, url=f"http://127.0.0.2/hooks/{next(_serial)}").pk


def _delivery(other):
    from leads.services import lead_create
    from webhooks.models import Delivery
    from webhooks.services import outbox_dispatch

    endpoint_id = _endpoint(other)
    lead_create(workspace=other.workspace, source="manual", data={"email": f"their-{next(_serial)}@globex.example"})
    outbox_dispatch()
    return Delivery.objects.filter(endpoint_id=endpoint_id).latest("pk").pk


def _suppression(other):
    from leads.models import Suppression
    from leads.services import suppressions_add

    email = f"their-{next(_serial)}@globex.example"
    suppressions_add(workspace=other.workspace, emails=[email], reason="manual")
    return Suppression.objects.get(workspace=other.workspace, email=email).pk


def _mailbox(other):
    from sequences.services import mailbox_create
    from tests.mailservers import smtp_server

    controller, smtp = smtp_server()
    try:
        return mailbox_create(
            workspace=other.workspace,
            data={
                "email": f"sender{next(_serial)}@globex.test",
                "smtp_host": smtp.host,
                "smtp_port": smtp.port,
                "smtp_username": smtp.username,
                "smtp_password": smtp.password,
                "smtp_security": "none",
            },
        ).pk
    finally:
        controller.stop()


def _sequence(other):
    from sequences.services import sequence_create

    return sequence_create(
        workspace=other.workspace,
        data={"name": "Theirs", "mailbox_id": _mailbox(other), "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    ).pk


def _enrollment(other):
    from sequences.models import Enrollment
    from sequences.services import enrollments_create

    sequence_id = _sequence(other)
    enrollments_create(workspace=other.workspace, sequence_id=sequence_id, lead_ids=[_lead(other)])
    return Enrollment.objects.filter(sequence_id=sequence_id).get().pk


def _duplicate_pair(other):
    from leads.duplicates import duplicates_scan
    from leads.models import DuplicatePair

    n = next(_serial)
    for first in ("Robert", "Bob"):
        data = {"first_name": first, "last_name": f"Fischer{n}", "company_name": "Globex", "email": f"{first}{n}@globex.test"}
        lead_create(workspace=other.workspace, source=Lead.Source.MANUAL, data=data)
    duplicates_scan(kind="lead", workspace=other.workspace)
    return DuplicatePair.objects.filter(workspace=other.workspace).latest("pk").pk


OBJECT_FACTORIES = {
    "mailbox_id": _mailbox,
    "sequence_id": _sequence,
    # A step's place in its sequence: with another workspace's sequence id the URL must still answer 404.
    "position": lambda other: 0,
    "enrollment_id": _enrollment,
    "endpoint_id": _endpoint,
    "delivery_id": _delivery,
    "pixel_id": _pixel,
    "visitor_id": _visitor,
    "segment_id": _segment,
    "upload_id": _upload,
    "enrichment_id": _enrichment,
    "credit_purchase_id": _credit_purchase,
    "purchase_id": _lead_purchase,
    "lead_id": _lead,
    "key_id": lambda other: other.api_key.pk,
    "membership_id": _member,
    "invitation_id": _invitation,
    "suppression_id": _suppression,
    "pair_id": _duplicate_pair,
}


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            if ns == "admin":  # staff see every workspace by design
                continue
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern, namespace


def _id_patterns():
    found = []
    for route, pattern, namespace in _walk(get_resolver().url_patterns):
        converters = pattern.pattern.converters
        if not converters:
            continue
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        found.append((name, route, sorted(converters)))
    return found


def _materialise(route: str, values: dict) -> str:
    path = route
    for key, value in values.items():
        for conv in ("int", "str", "slug", "uuid", "path"):
            path = path.replace(f"<{conv}:{key}>", str(value))
        path = path.replace(f"<{key}>", str(value))
    return "/" + path.lstrip("^").rstrip("$")


def test_walks_at_least_the_known_patterns():
    names = {name for name, _, _ in _id_patterns()}
    assert {"leads:detail", "accounts:api_key_revoke", "accounts:member_remove"} <= names


def _is_partner_url(route: str) -> bool:
    return route.startswith(("partner/", "api/v1/partner/"))


def test_every_id_url_answers_404_for_another_workspaces_object(client, tenant, other_tenant, tenant_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Partner pages are only for partner workspaces: walk them as a partner, with another partner's ids.
    partner, other_partner = tenant_factory("Our partner", kind="partner"), tenant_factory("Their partner", kind="partner")
    checked = []
    for name, route, params in _id_patterns():
        me, other = (partner, other_partner) if _is_partner_url(route) else (tenant, other_tenant)
        values = {}
        for param in params:
            if (name, param) in NOT_WORKSPACE_OBJECTS:
                values = None
                break
            assert param in OBJECT_FACTORIES, (
                f"URL {name} ({route}) takes `{param}`: add a factory to OBJECT_FACTORIES in {__file__}"
            )
            values[param] = OBJECT_FACTORIES[param](other)
        if values is None:
            continue
        path = _materialise(route, values)
        if path.startswith("/api/"):
            requester = me.api()
        else:
            client.force_login(me.user)
            requester = client
        response = requester.get(path)
        if response.status_code == 405:
            response = requester.post(path)
        assert response.status_code == 404, f"{name} {path} answered {response.status_code} for another workspace's id"
        checked.append(name)
    assert checked, "no URL with object ids was checked"


def test_other_workspace_objects_are_untouched_after_the_walk(client, tenant, other_tenant, tenant_factory, settings, tmp_path):
    test_every_id_url_answers_404_for_another_workspaces_object(client, tenant, other_tenant, tenant_factory, settings, tmp_path)
    assert other_tenant.api_key.__class__.objects.get(pk=other_tenant.api_key.pk).revoked_at is None
    assert Membership.objects.filter(workspace=other_tenant.workspace).count() > 1
