"""The dashboard's getting-started checklist: the five steps, ticked by the real events, then one line."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import OnboardingStep, Workspace
from credits.services import onboarding_bonus_grant
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

STEP_LINKS = [
    ("buy_credits", "Buy credits", "/credits/"),
    ("search_database", "Search the lead database", "/search/"),
    ("create_segment", "Save a segment", "/search/"),
    ("install_pixel", "Install the website pixel", "/pixels/"),
    ("add_webhook", "Add a webhook", "/settings/webhooks/new/"),
]


def dashboard(client, tenant) -> str:
    client.force_login(tenant.user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_workspace_sees_the_five_steps_each_linking_where_it_is_done(client, tenant, settings):
    settings.ONBOARDING_BONUS_CREDITS = Decimal("10")
    page = dashboard(client, tenant)
    assert 'data-testid="getting-started"' in page
    assert 'data-testid="getting-started-count">0 of 5 done' in page
    positions = [page.index(f'data-step="{key}"') for key, _, _ in STEP_LINKS]
    assert positions == sorted(positions), "in the contract's order"
    for _, title, url in STEP_LINKS:
        assert f'<a href="{url}">{title}</a>' in page
    assert "we add 10 bonus credits" in page
    assert "Invite a teammate" not in page, "the old checklist is gone"


def test_a_step_done_for_real_is_ticked_and_counted(client, tenant):
    endpoint_create(workspace=tenant.workspace, url="https://127.0.0.2/hook", events=[])
    page = dashboard(client, tenant)
    assert 'data-testid="getting-started-count">1 of 5 done' in page
    webhook = page[page.index('data-step="add_webhook"') :]
    webhook = webhook[: webhook.index("</li>")]
    assert "✓" in webhook and "<a " not in webhook and "(done)" in webhook


def test_visiting_the_pages_that_explain_a_step_ticks_nothing(client, tenant):
    client.force_login(tenant.user)
    for url in ["/credits/", "/search/", "/segments/", "/pixels/", "/settings/webhooks/", "/settings/webhooks/new/"]:
        assert client.get(url).status_code == 200, url
    assert 'data-testid="getting-started-count">0 of 5 done' in dashboard(client, tenant)


def test_all_five_done_turns_the_checklist_into_one_line_that_can_be_dismissed(client, tenant, settings):
    settings.ONBOARDING_BONUS_CREDITS = Decimal("10")
    for key, _, _ in STEP_LINKS:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=key)
    onboarding_bonus_grant(workspace=tenant.workspace)
    page = dashboard(client, tenant)
    assert 'data-testid="getting-started"' not in page
    assert "Onboarding complete, 10 bonus credits added." in page
    assert client.post("/onboarding/dismiss/").status_code == 302
    assert 'data-testid="onboarding-complete"' not in dashboard(client, tenant)


def test_the_completion_line_goes_by_itself_after_a_week(client, tenant, monkeypatch):
    from analytics import views

    for key, _, _ in STEP_LINKS:
        OnboardingStep.objects.create(workspace=tenant.workspace, step=key)
    onboarding_bonus_grant(workspace=tenant.workspace)
    assert 'data-testid="onboarding-complete"' in dashboard(client, tenant)
    monkeypatch.setattr(views, "COMPLETE_NOTICE_FOR", dt.timedelta(0))
    page = dashboard(client, tenant)
    assert 'data-testid="onboarding-complete"' not in page and 'data-testid="getting-started"' not in page


def test_a_partner_workspace_gets_a_partner_start_not_the_buyer_steps(client, tenant_factory):
    partner = tenant_factory("Data Co", kind=Workspace.Kind.PARTNER)
    page = dashboard(client, partner)
    assert 'data-testid="getting-started"' not in page
    assert 'data-testid="partner-start"' in page and 'href="/partner/uploads/new/"' in page
