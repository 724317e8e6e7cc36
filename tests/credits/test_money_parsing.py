"""Property tests for every place a credit amount or price comes in as text: forms, API serializers, query
filters, services and the CLI. Whatever the text (random, huge, NaN/Infinity, exponents, many decimals), the
answer is a clean refusal or a 2-place amount the database stores, never an exception that would be a 500."""

import io
import itertools
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Workspace
from credits.admin import AdjustForm
from credits.forms import ThresholdForm
from credits.models import CreditAccount
from credits.services import MAX_CREDITS, credit_account_settings_update, credits_adjust, to_credits
from cursive.errors import ApplicationError, ValidationFailed
from marketplace import selectors as marketplace_selectors
from marketplace.filters import ListingFilterSerializer
from partners.forms import UploadStartForm
from partners.services import upload_create
from segments.services import segment_settings_update

pytestmark = pytest.mark.django_db

NUMBERISH = st.from_regex(r"\A[ ]?[-+]?[0-9_]{0,30}(\.[0-9]{0,30})?([eE][-+]?[0-9]{1,5})?[ ]?\Z")
AMOUNT_TEXT = st.one_of(
    st.text(max_size=40),
    NUMBERISH,
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(
        [
            "NaN",
            "-nan",
            "sNaN",
            "Infinity",
            "-inf",
            "1e20",
            "1e400",
            "1e-400",
            "0.005",
            "-0",
            "999999999999.99",
            "999999999999.995",
            "1000000000000",
            "1_000",
            "١٢",
            " 5 ",
            "5\x00",
            "0x10",
        ]
    ),
)
MONEY = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_names = itertools.count(1)


def _storable(amount: Decimal) -> bool:
    return amount.is_finite() and amount.as_tuple().exponent == -2 and abs(amount) <= MAX_CREDITS


@MONEY
@given(AMOUNT_TEXT)
def test_to_credits_gives_a_storable_amount_or_a_validation_error(text):
    try:
        amount = to_credits(text)
    except ValidationFailed:
        return
    assert _storable(amount)


@MONEY
@given(
    st.one_of(
        st.floats(),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_to_credits_takes_any_python_value(value):
    try:
        amount = to_credits(value)
    except ValidationFailed:
        return
    assert _storable(amount)


@MONEY
@given(AMOUNT_TEXT)
def test_the_segment_daily_cap(tenant, text):
    try:
        saved = segment_settings_update(workspace=tenant.workspace, auto_pull_daily_credit_cap=text)
    except ValidationFailed:
        return
    saved.refresh_from_db()
    assert _storable(saved.auto_pull_daily_credit_cap) and saved.auto_pull_daily_credit_cap >= 0


@MONEY
@given(AMOUNT_TEXT)
def test_the_low_balance_threshold_form_and_service(tenant, text):
    form = ThresholdForm({"low_balance_threshold": text})
    if form.is_valid():
        credit_account_settings_update(workspace=tenant.workspace, **form.cleaned_data)
    try:
        credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold=text)
    except ValidationFailed:
        return
    assert _storable(CreditAccount.objects.get(workspace=tenant.workspace).low_balance_threshold)


@MONEY
@given(AMOUNT_TEXT)
def test_a_staff_adjustment_is_applied_or_refused(tenant, text):
    form = AdjustForm({"amount": text, "reason": "property test"})
    if not form.is_valid():
        return
    before = CreditAccount.objects.filter(workspace=tenant.workspace).values_list("balance", flat=True).first()
    try:
        credits_adjust(workspace=tenant.workspace, actor=None, **form.cleaned_data)
    except ApplicationError:
        after = CreditAccount.objects.filter(workspace=tenant.workspace).values_list("balance", flat=True).first()
        assert after == before
        return
    assert _storable(CreditAccount.objects.get(workspace=tenant.workspace).balance)


@MONEY
@given(AMOUNT_TEXT, AMOUNT_TEXT)
def test_marketplace_price_filters_validate_or_run(low, high):
    params = ListingFilterSerializer(data={"price_min": low, "price_max": high})
    if params.is_valid():
        marketplace_selectors.available_listings(filters=params.filters()).count()


@settings(MONEY, max_examples=40)
@given(AMOUNT_TEXT)
def test_marketplace_price_filters_over_http_are_never_a_500(client, tenant, text):
    api = tenant.api()
    assert api.get("/api/v1/marketplace/leads", {"price_min": text}).status_code in (200, 400)
    browser = tenant.browser_client(client)
    assert browser.get("/marketplace/", {"price_max": text}).status_code in (200, 400)


@pytest.fixture
def partner(settings, tmp_path, tenant_factory):
    settings.MEDIA_ROOT = tmp_path / "media"
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


@settings(MONEY, max_examples=40)
@given(AMOUNT_TEXT)
def test_a_partner_price_per_lead(partner, text):
    UploadStartForm({"price_per_lead": text}, {"file": SimpleUploadedFile("a.csv", b"email\n")}).is_valid()
    try:
        upload = upload_create(
            workspace=partner.workspace,
            price_per_lead=text,
            mapping=None,
            created_by=None,
            file=SimpleUploadedFile("leads.csv", b"first_name,email\nAnn,ann@example.com\n"),
        )
    except ValidationFailed:
        return
    upload.refresh_from_db()
    assert Decimal("0.50") <= upload.price_per_lead <= Decimal("1000")


@settings(MONEY, max_examples=25)
@given(AMOUNT_TEXT)
def test_create_workspace_credits(db, text):
    n = next(_names)
    try:
        call_command(
            "create_workspace",
            f"Prop {n}",
            "--owner-email",
            f"prop{n}@example.com",
            "--credits",
            text,
            stdout=io.StringIO(),
        )
    except CommandError:
        assert not Workspace.objects.filter(name=f"Prop {n}").exists()
