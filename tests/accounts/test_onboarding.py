"""The getting-started steps tick on the real events, done by the real services, and only on those."""

import pytest
from django.db import connection, transaction

from accounts.models import OnboardingStep
from accounts.selectors import onboarding_complete, onboarding_steps_done
from accounts.services import onboarding_step_complete
from credits.models import CreditPackage
from credits.services import credit_checkout_create
from cursive.models import Job
from segments.models import SegmentRun
from segments.services import segment_create, segment_preview
from tests.credits.conftest import deliver, session_event
from tests.visitors.conftest import make_pixel, make_visitor
from visitors.services import pixel_update
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

Key = OnboardingStep.Key
HOOK_URL = "http://127.0.0.2:8080/hook"


def done(tenant) -> set[str]:
    return set(onboarding_steps_done(workspace=tenant.workspace))


def test_a_new_workspace_has_done_nothing(tenant):
    assert done(tenant) == set()
    assert not onboarding_complete(workspace=tenant.workspace)


def test_buying_credits_ticks_when_the_payment_completes_not_when_checkout_starts(client, tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    purchase = credit_checkout_create(
        workspace=tenant.workspace, package_id=CreditPackage.objects.get(label="Growth").pk, created_by=tenant.user
    )
    assert done(tenant) == set(), "a checkout that is never paid is not a purchase"
    assert deliver(client, session_event(purchase)).status_code == 200
    assert done(tenant) == {Key.BUY_CREDITS}


def test_a_lead_search_ticks_when_it_searches_not_when_the_page_opens(client, tenant):
    client.force_login(tenant.user)
    assert client.get("/search/").status_code == 200
    assert done(tenant) == set(), "opening the page is not a search"
    client.get("/search/?company_size=huge")
    assert done(tenant) == set(), "a search that could not run is not one"
    assert client.get("/search/?industry=Fintech").status_code == 200
    assert done(tenant) == {Key.SEARCH_DATABASE}


def test_a_segment_preview_through_the_api_is_a_search_and_saving_a_segment_ticks_its_step(tenant):
    segment = segment_create(workspace=tenant.workspace, name="Fintech", filters={"industry": ["Fintech"]})
    assert done(tenant) == {Key.CREATE_SEGMENT}
    segment_preview(workspace=tenant.workspace, segment_id=segment.pk, mode=SegmentRun.Mode.PREVIEW)
    assert done(tenant) == {Key.CREATE_SEGMENT, Key.SEARCH_DATABASE}


def test_the_daily_refresh_of_segment_counts_is_not_a_search(tenant):
    from segments.services import segments_refresh_counts

    segment_create(workspace=tenant.workspace, name="Fintech", filters={"industry": ["Fintech"]})
    assert segments_refresh_counts() == 1
    assert done(tenant) == {Key.CREATE_SEGMENT}


def test_the_pixel_ticks_on_its_first_hit_not_when_it_is_created(tenant):
    pixel = make_pixel(tenant)
    assert done(tenant) == set()
    make_visitor(pixel)
    assert done(tenant) == {Key.INSTALL_PIXEL}
    first = OnboardingStep.objects.get(workspace=tenant.workspace, step=Key.INSTALL_PIXEL).done_at
    pixel_update(workspace=tenant.workspace, pixel_id=pixel.pk, domain="example.org")
    make_visitor(pixel, url="https://example.org/")
    assert OnboardingStep.objects.get(workspace=tenant.workspace, step=Key.INSTALL_PIXEL).done_at == first, "recorded once"


def test_the_first_hit_costs_the_beacon_four_queries_more_and_later_hits_none(client, tenant, django_assert_max_num_queries):
    """The workspace, whether the step is done, the step and the bonus check's job; only while the pixel waits."""
    from tests.visitors.conftest import beacon, pageview

    pixel = make_pixel(tenant)
    with django_assert_max_num_queries(8 + 4):
        assert beacon(client, pageview(pixel, visitor="a")).status_code == 202
    assert done(tenant) == {Key.INSTALL_PIXEL}
    with django_assert_max_num_queries(8):
        beacon(client, pageview(pixel, visitor="b"))


def test_adding_a_webhook_ticks_its_step(tenant):
    endpoint_create(workspace=tenant.workspace, url=HOOK_URL, events=["lead.created"])
    assert done(tenant) == {Key.ADD_WEBHOOK}


def test_a_rolled_back_operation_ticks_nothing(tenant):
    with pytest.raises(RuntimeError), transaction.atomic():
        endpoint_create(workspace=tenant.workspace, url=HOOK_URL, events=["lead.created"])
        raise RuntimeError("the request failed after the endpoint was saved")
    assert done(tenant) == set()
    assert not Job.objects.filter(func="credits.tasks.onboarding_bonus_grant").exists()


def test_a_step_is_recorded_once_and_only_its_first_time_asks_for_the_bonus(tenant):
    assert onboarding_step_complete(workspace=tenant.workspace, step=Key.ADD_WEBHOOK) is True
    assert onboarding_step_complete(workspace=tenant.workspace, step=Key.ADD_WEBHOOK) is False
    assert OnboardingStep.objects.filter(workspace=tenant.workspace).count() == 1
    assert Job.objects.filter(func="credits.tasks.onboarding_bonus_grant").count() == 1
    with pytest.raises(ValueError):
        onboarding_step_complete(workspace=tenant.workspace, step="invite_teammate")


def test_steps_are_per_workspace(tenant, other_tenant):
    endpoint_create(workspace=tenant.workspace, url=HOOK_URL, events=[])
    assert done(other_tenant) == set()


def test_the_backfill_reads_what_workspaces_already_did(client, tenant, other_tenant, settings):
    """The data migration's SQL over facts made by the real services, steps wiped as before the migration."""
    from importlib import import_module

    backfill = import_module("accounts.migrations.0005_onboarding_steps_backfill").BACKFILL
    settings.STRIPE_SECRET_KEY = ""
    purchase = credit_checkout_create(
        workspace=tenant.workspace, package_id=CreditPackage.objects.get(label="Starter").pk, created_by=tenant.user
    )
    deliver(client, session_event(purchase))
    segment_create(workspace=tenant.workspace, name="Fintech", filters={"industry": ["Fintech"]})
    make_visitor(make_pixel(tenant))
    make_pixel(other_tenant)  # never hit: not installed
    endpoint_create(workspace=other_tenant.workspace, url=HOOK_URL, events=[])
    OnboardingStep.objects.all().delete()

    with connection.cursor() as cursor:
        cursor.execute(backfill)
        cursor.execute(backfill)  # safe to run twice
    assert done(tenant) == {Key.BUY_CREDITS, Key.SEARCH_DATABASE, Key.CREATE_SEGMENT, Key.INSTALL_PIXEL}
    assert done(other_tenant) == {Key.ADD_WEBHOOK}
